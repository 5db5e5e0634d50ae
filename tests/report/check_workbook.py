"""Opens ranking.xlsx with openpyxl (what a county's Excel/WPS would read) and prints what the
test checks: every sheet's title, frozen panes, print settings and cell texts, as JSON.

    python3 check_workbook.py ranking.xlsx
"""

import json
import sys

import openpyxl


def main(path):
    wb = openpyxl.load_workbook(path)
    sheets = []
    for ws in wb.worksheets:
        setup = ws.page_setup
        sheets.append({
            "name": ws.title,
            "title": ws["A1"].value,
            "merged": [str(r) for r in ws.merged_cells.ranges],
            "freeze_panes": ws.freeze_panes,
            "orientation": setup.orientation,
            "paper_size": int(setup.paperSize) if setup.paperSize is not None else None,
            "fit_to_page": bool(ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage),
            "fit_to_width": setup.fitToWidth,
            "fit_to_height": setup.fitToHeight,
            "print_title_rows": ws.print_title_rows,
            "header": [c.value for c in ws[2]],
            "conditional_formats": sum(len(cf.rules) for cf in ws.conditional_formatting),
            "texts": sorted({str(c.value) for row in ws.iter_rows(min_row=3) for c in row if c.value is not None}),
        })
    json.dump(sheets, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
