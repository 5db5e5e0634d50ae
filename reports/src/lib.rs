//! gridassess reports: charts (plotters), the offline HTML report and the print-ready Excel
//! workbook, rendered from the record batches the engine returns. Not yet built: see the
//! reports issue. It runs no SQL of its own.
