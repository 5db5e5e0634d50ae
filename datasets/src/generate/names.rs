//! Word pools for names, places, organizations, meeting themes and point reasons.
//!
//! Every character here is in GB2312, so any of it can be written to a GBK file as counties'
//! Excel exports are; a unit test checks that.

use super::rng::Rng;

/// Surnames, roughly from most to least common (with a Hunan lean: 易, 文, 谭, 彭, 邓).
pub(crate) const SURNAMES: &[&str] = &[
    "王", "李", "刘", "张", "陈", "杨", "黄", "周", "彭", "谭", "邓", "易", "赵", "吴", "徐", "孙",
    "胡", "朱", "高", "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "唐", "许", "韩", "冯",
    "曹", "曾", "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕",
    "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "陆", "汪", "范", "金", "石", "廖", "贾", "夏",
    "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛", "段", "雷", "侯", "龙", "史",
    "陶", "黎", "贺", "顾", "毛", "龚", "邵", "万", "钱", "严", "文", "左", "戴", "莫", "孔", "向",
    "汤", "欧阳", "司马", "上官",
];

const MALE_CHARS: &[&str] = &[
    "建", "国", "伟", "军", "强", "明", "华", "平", "勇", "志", "文", "海", "林", "东", "春", "德",
    "忠", "新", "杰", "涛", "斌", "超", "波", "辉", "刚", "健", "峰", "磊", "鹏", "兵", "毅", "锋",
    "俊", "亮", "宏", "光", "荣", "利", "清", "松", "立", "成", "庆", "胜", "学", "永", "祥", "福",
    "生", "龙", "元", "全", "金", "家", "卫", "湘", "培", "正", "长", "云", "勤", "发", "贵", "先",
    "洪", "泽", "宇", "浩", "博", "晨", "阳", "昊", "俊", "子", "振",
];

const FEMALE_CHARS: &[&str] = &[
    "芳", "娟", "敏", "静", "丽", "艳", "燕", "霞", "秀", "英", "玲", "萍", "红", "梅", "琴", "云",
    "兰", "凤", "洁", "婷", "雪", "慧", "娜", "倩", "丹", "莉", "桂", "珍", "淑", "华", "玉", "金",
    "菊", "月", "春", "琳", "颖", "佳", "欣", "怡", "璐", "晓", "小", "美", "翠",
];

/// A person's name: a surname and a one- or two-character given name.
pub(crate) fn person(rng: &mut Rng, female: bool) -> String {
    let surname = SURNAMES[rng.skewed(SURNAMES.len())];
    let pool = if female { FEMALE_CHARS } else { MALE_CHARS };
    let mut name = String::from(surname);
    name.push_str(pool[rng.skewed(pool.len())]);
    if rng.chance(0.62) {
        name.push_str(pool[rng.index(pool.len())]);
    }
    name
}

/// A person's name, a woman's with probability `female_share`.
pub(crate) fn someone(rng: &mut Rng, female_share: f64) -> String {
    let female = rng.chance(female_share);
    person(rng, female)
}

/// First and second characters of made-up place names.
const PLACE_FIRST: &[&str] = &[
    "青", "石", "枫", "荷", "桃", "柳", "松", "竹", "梅", "兰", "龙", "凤", "金", "银", "白", "黄",
    "红", "东", "西", "南", "北", "新", "大", "小", "长", "高", "平", "安", "太", "永", "福", "泉",
    "花", "云", "仙", "鹤", "官", "马", "黎", "潭", "沙", "田", "杨", "柏", "茶", "樟", "桂", "李",
    "清", "明", "双", "三", "五", "九", "瑶", "丰", "和", "兴", "富", "宝",
];
const PLACE_SECOND: &[&str] = &[
    "溪", "山", "江", "湖", "塘", "桥", "坪", "冲", "湾", "岭", "源", "口", "岗", "洲", "田", "林",
    "坡", "园", "铺", "港", "头", "庄", "河", "峰", "泉", "石", "水", "阳", "丰", "里",
];

/// A made-up two-character place name, e.g. 枫溪.
pub(crate) fn place(rng: &mut Rng) -> String {
    let a = PLACE_FIRST[rng.index(PLACE_FIRST.len())];
    let b = PLACE_SECOND[rng.index(PLACE_SECOND.len())];
    // 石石 or 田田 read badly; 溪 never repeats a first character.
    let b = if a == b { "溪" } else { b };
    format!("{a}{b}")
}

pub(crate) const DISTRICTS: &[&str] =
    &["东片区", "西片区", "南片区", "北片区", "中片区", "城区片区"];

const DIGITS: &[&str] = &["一", "二", "三", "四", "五", "六", "七", "八", "九"];

/// A Chinese numeral for 1–99 (第十二村民小组), as ordinal names are written.
pub(crate) fn numeral(n: usize) -> String {
    let (tens, ones) = (n / 10 % 10, n % 10);
    let one = |d: usize| DIGITS[d - 1];
    match (tens, ones) {
        (0, 0) => "零".to_string(),
        (0, o) => one(o).to_string(),
        (1, 0) => "十".to_string(),
        (1, o) => format!("十{}", one(o)),
        (t, 0) => format!("{}十", one(t)),
        (t, o) => format!("{}十{}", one(t), one(o)),
    }
}

pub(crate) const PARTY_GROUPS: &[&str] = &["第一党小组", "第二党小组", "第三党小组"];

/// County-level departments that have their own branch (机关), institutions (事业单位),
/// schools and state-owned enterprises at county level.
pub(crate) const COUNTY_ORGANS: &[&str] = &[
    "县委办公室",
    "县人大常委会办公室",
    "县政府办公室",
    "县政协办公室",
    "县纪委监委机关",
    "县委组织部",
    "县委宣传部",
    "县委统战部",
    "县委政法委",
    "县委编办",
    "县委党校",
    "县发展和改革局",
    "县教育局",
    "县科技和工业信息化局",
    "县公安局",
    "县民政局",
    "县司法局",
    "县财政局",
    "县人力资源和社会保障局",
    "县自然资源局",
    "县生态环境分局",
    "县住房和城乡建设局",
    "县交通运输局",
    "县水利局",
    "县农业农村局",
    "县商务局",
    "县文化旅游广电体育局",
    "县卫生健康局",
    "县退役军人事务局",
    "县应急管理局",
    "县审计局",
    "县市场监督管理局",
    "县统计局",
    "县医疗保障局",
    "县林业局",
    "县城市管理和综合执法局",
    "县信访局",
    "县行政审批服务局",
    "县总工会",
    "团县委",
    "县妇联",
    "县科协",
    "县工商联",
    "县档案馆",
    "县机关事务中心",
    "县融媒体中心",
    "县人民法院",
    "县人民检察院",
    "县税务局",
    "县气象局",
    "县烟草专卖局",
    "县供销合作社",
    "县老干部局",
    "县乡村振兴局",
    "县粮食和物资储备局",
    "县数据资源局",
    "县残联",
    "县红十字会",
    "县文联",
    "县国有资产事务中心",
];

pub(crate) const COUNTY_INSTITUTIONS: &[&str] = &[
    "县人民医院",
    "县中医医院",
    "县妇幼保健院",
    "县疾病预防控制中心",
    "县图书馆",
    "县博物馆",
    "县农业技术推广中心",
    "县水文站",
    "县公共资源交易中心",
    "县不动产登记中心",
    "县社会保险服务中心",
    "县住房公积金中心",
    "县广播电视台",
    "县城乡规划设计院",
    "县动物疫病预防控制中心",
    "县林业调查规划设计队",
    "县职业病防治所",
    "县殡仪馆",
];

pub(crate) const COUNTY_SCHOOLS: &[&str] = &[
    "县第一中学",
    "县第二中学",
    "县第四中学",
    "县职业中专",
    "县实验小学",
    "县实验中学",
    "县特殊教育学校",
    "县城关幼儿园",
];

pub(crate) const COUNTY_SOES: &[&str] = &[
    "县供电公司",
    "县自来水公司",
    "县城市建设投资集团",
    "县交通建设投资公司",
    "县农村商业银行",
    "县邮政分公司",
    "县公共交通公司",
    "县粮食购销公司",
    "县燃气公司",
    "县文旅投资公司",
    "县电信分公司",
    "县移动分公司",
    "县国有资产经营公司",
    "县水务投资公司",
    "县石油分公司",
];

pub(crate) const TOWNSHIP_INSTITUTIONS: &[&str] = &[
    "卫生院",
    "农业综合服务中心",
    "文化站",
    "社会事务综合服务中心",
    "财政所",
];

pub(crate) const TOWNSHIP_SCHOOLS: &[&str] = &["中学", "中心小学", "中心幼儿园"];

/// (industry, what the company name ends with).
pub(crate) const INDUSTRIES: &[(&str, &str)] = &[
    ("陶瓷", "瓷业有限公司"),
    ("烟花爆竹", "花炮制造有限公司"),
    ("电子信息", "电子科技有限公司"),
    ("机械制造", "机械有限公司"),
    ("现代物流", "物流有限公司"),
    ("新型建材", "建材有限公司"),
    ("食品加工", "食品有限公司"),
    ("服装纺织", "服饰有限公司"),
    ("生物医药", "生物科技有限公司"),
    ("电子商务", "电子商务有限公司"),
    ("农业科技", "农业开发有限公司"),
    ("建筑工程", "建设工程有限公司"),
    ("商贸零售", "商贸有限公司"),
    ("餐饮服务", "餐饮管理有限公司"),
];

/// (industry, what the social organization's name ends with).
pub(crate) const SOCIAL_KINDS: &[(&str, &str)] = &[
    ("公益慈善", "志愿者协会"),
    ("行业协会", "商会"),
    ("社区服务", "老年人协会"),
    ("公益慈善", "慈善会"),
    ("文化体育", "书画协会"),
    ("文化体育", "篮球协会"),
    ("社区服务", "乡贤理事会"),
    ("养老服务", "养老服务中心"),
    ("社区服务", "社会工作服务站"),
    ("行业协会", "个体劳动者协会"),
    ("行业协会", "种养殖专业协会"),
];

/// Two made-up characters for a company's trade name.
const BRAND: &[&str] = &[
    "华", "鑫", "泰", "宏", "盛", "达", "兴", "隆", "丰", "顺", "发", "恒", "瑞", "祥", "安", "利",
    "新", "源", "科", "创", "晨", "星", "阳", "光", "旺", "嘉", "裕", "锦", "昌", "通",
];

pub(crate) fn brand(rng: &mut Rng) -> String {
    let a = rng.index(BRAND.len());
    // A different second character: 华华 is not a trade name.
    let b = (a + 1 + rng.index(BRAND.len() - 1)) % BRAND.len();
    format!("{}{}", BRAND[a], BRAND[b])
}

/// Meeting themes by kind; the month picks one so a branch's year reads like a plan.
pub(crate) const COMMITTEE_THEMES: &[&str] = &[
    "研究部署年度党建工作计划",
    "研究春节期间走访慰问工作",
    "研究发展党员工作",
    "研究村级重大事项（四议两公开）",
    "研究党费收缴和使用情况",
    "研究防汛抗旱工作部署",
    "研究“七一”表彰推荐人选",
    "研究网格化管理工作",
    "研究秋季森林防火工作",
    "研究矛盾纠纷排查化解",
    "研究年度考核准备工作",
    "研究组织生活会准备工作",
];

pub(crate) const GROUP_THEMES: &[&str] = &[
    "学习《中国共产党章程》",
    "学习党的二十大报告",
    "学习《中国共产党纪律处分条例》",
    "学习习近平新时代中国特色社会主义思想",
    "交流网格走访情况",
    "学习防汛救灾知识",
    "学习党史",
    "学习乡村振兴政策",
    "学习民法典",
    "开展谈心谈话",
    "学习反电诈知识",
    "总结全年学习情况",
];

pub(crate) const ASSEMBLY_THEMES: &[&str] = &[
    "通报一季度党建工作情况",
    "讨论预备党员转正",
    "通报三季度党建工作情况",
    "选举出席上级党代会代表",
];

pub(crate) const LECTURE_THEMES: &[&str] = &[
    "书记讲党课：坚定理想信念",
    "书记讲党课：党纪学习教育",
    "七一党课：传承红色基因",
    "书记讲党课：推进乡村振兴",
];

pub(crate) const THEME_DAY_THEMES: &[&str] = &[
    "主题党日：新春走访慰问",
    "主题党日：学雷锋志愿服务",
    "主题党日：清明祭扫烈士墓",
    "主题党日：植树护绿",
    "主题党日：人居环境整治",
    "主题党日：重温入党誓词",
    "主题党日：庆祝建党103周年",
    "主题党日：防溺水宣传",
    "主题党日：参观红色教育基地",
    "主题党日：重阳敬老",
    "主题党日：宪法宣传",
    "主题党日：年终走访困难党员",
];

pub(crate) const ORG_LIFE_THEME: &str = "2023年度组织生活会";
pub(crate) const REVIEW_THEME: &str = "2024年度民主评议党员";

pub(crate) const TASK_REASONS: &[&str] = &[
    "参加网格走访",
    "参与人居环境整治",
    "完成支部分配任务",
    "参加志愿服务",
    "开展政策宣传",
    "参与矛盾纠纷调解",
    "参与防汛值守",
    "帮扶困难群众",
    "参与森林防火巡查",
    "参与秸秆禁烧巡查",
];

pub(crate) const BASE_REASONS: &[&str] = &["无故缺席组织生活", "未按时交纳党费", "未参加集中学习"];

pub(crate) const REWARD_REASONS: &[&str] = &[
    "认领微心愿",
    "参加义务献血",
    "志愿服务表现突出",
    "捐资助学",
    "合理化建议被采纳",
];

pub(crate) const HONOR_REASONS: &[(&str, i64)] = &[
    ("获评县级优秀共产党员", 500),
    ("获评镇级优秀共产党员", 300),
    ("获评优秀党务工作者", 300),
];

pub(crate) const VIOLATION_REASONS: &[&str] = &["受到党内警告处分", "违反中央八项规定精神受到处理"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerals() {
        assert_eq!(numeral(1), "一");
        assert_eq!(numeral(10), "十");
        assert_eq!(numeral(12), "十二");
        assert_eq!(numeral(20), "二十");
        assert_eq!(numeral(35), "三十五");
    }

    #[test]
    fn every_word_is_gbk() {
        let pools: &[&[&str]] = &[
            SURNAMES,
            MALE_CHARS,
            FEMALE_CHARS,
            PLACE_FIRST,
            PLACE_SECOND,
            DISTRICTS,
            DIGITS,
            PARTY_GROUPS,
            COUNTY_ORGANS,
            COUNTY_INSTITUTIONS,
            COUNTY_SCHOOLS,
            COUNTY_SOES,
            TOWNSHIP_INSTITUTIONS,
            TOWNSHIP_SCHOOLS,
            BRAND,
            COMMITTEE_THEMES,
            GROUP_THEMES,
            ASSEMBLY_THEMES,
            LECTURE_THEMES,
            THEME_DAY_THEMES,
            TASK_REASONS,
            BASE_REASONS,
            REWARD_REASONS,
            VIOLATION_REASONS,
            &[ORG_LIFE_THEME, REVIEW_THEME, "十零"],
        ];
        let pairs = INDUSTRIES
            .iter()
            .chain(SOCIAL_KINDS)
            .flat_map(|(a, b)| [*a, *b])
            .chain(HONOR_REASONS.iter().map(|(a, _)| *a));
        for word in pools.iter().flat_map(|p| p.iter().copied()).chain(pairs) {
            let (_, _, unmappable) = encoding_rs::GBK.encode(word);
            assert!(!unmappable, "{word} is not GBK");
        }
    }
}
