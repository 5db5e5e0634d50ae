//! A tenant's own header map, kept beside its rules as `headers.toml` and used by every later
//! load (`gridassess headers set|show`).

use std::fs;

use model::HeaderMap;

use crate::{Result, Tenant, io_err, write_atomic};

const HEADERS_FILE: &str = "headers.toml";

impl Tenant {
    /// The tenant's header map: its text as set and the parsed map; `None` when it has none.
    pub fn header_map(&self) -> Result<Option<(String, HeaderMap)>> {
        let path = self.dir.join(HEADERS_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).map_err(io_err(&path))?;
        let map = HeaderMap::parse(&text, &path.display().to_string())?;
        Ok(Some((text, map)))
    }

    /// Validates `text` (`source_name` names it in errors) and, when it is accepted, makes it
    /// the tenant's header map, replacing the one before.
    pub fn set_header_map(&self, text: &str, source_name: &str) -> Result<HeaderMap> {
        let map = HeaderMap::parse(text, source_name)?;
        let _lock = self.lock()?;
        write_atomic(&self.dir.join(HEADERS_FILE), text.as_bytes())?;
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Warehouse, WarehouseError};

    #[tokio::test]
    async fn a_header_map_is_validated_kept_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::init(&dir.path().join("wh")).unwrap();
        let tenant = wh.add_tenant("t", "测试县").await.unwrap();
        assert!(tenant.header_map().unwrap().is_none());
        let text = "[meetings]\n\"承办支部\" = \"branch_id\"\n";
        tenant.set_header_map(text, "mine.toml").unwrap();
        let (stored, map) = tenant.header_map().unwrap().unwrap();
        assert_eq!(stored, text);
        assert_eq!(map.column_for("meetings", "承办支部"), Some("branch_id"));
        // A bad map is refused and the one in force stays.
        let bad = tenant.set_header_map("[meetings]\n\"x\" = \"nope\"\n", "bad.toml");
        assert!(matches!(bad, Err(WarehouseError::HeaderMap(e)) if e.line == 2));
        assert_eq!(tenant.header_map().unwrap().unwrap().0, text);
    }
}
