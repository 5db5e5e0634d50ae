//! Where a table's batches go: a Parquet file, an English CSV file, or memory (the sample's
//! hand-over files and the tests are made from memory).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::GenerateError;

pub(crate) enum Sink {
    Parquet {
        path: PathBuf,
        writer: Box<ArrowWriter<BufWriter<File>>>,
    },
    Csv {
        path: PathBuf,
        writer: Box<arrow::csv::Writer<BufWriter<File>>>,
    },
    Memory(Vec<RecordBatch>),
}

fn create(path: &Path) -> Result<BufWriter<File>, GenerateError> {
    let file = File::create(path).map_err(|source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

impl Sink {
    pub(crate) fn parquet(path: &Path, schema: SchemaRef) -> Result<Sink, GenerateError> {
        // Fixed properties, including created_by, so the bytes depend on the data alone.
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("gridassess datasets generator".to_string())
            .build();
        let writer =
            ArrowWriter::try_new(create(path)?, schema, Some(props)).map_err(|source| {
                GenerateError::Parquet {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Ok(Sink::Parquet {
            path: path.to_path_buf(),
            writer: Box::new(writer),
        })
    }

    pub(crate) fn csv(path: &Path) -> Result<Sink, GenerateError> {
        let writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .with_date_format("%Y-%m-%d".to_string())
            .build(create(path)?);
        Ok(Sink::Csv {
            path: path.to_path_buf(),
            writer: Box::new(writer),
        })
    }

    pub(crate) fn write(&mut self, batch: RecordBatch) -> Result<(), GenerateError> {
        match self {
            Sink::Parquet { path, writer } => {
                writer
                    .write(&batch)
                    .map_err(|source| GenerateError::Parquet {
                        path: path.clone(),
                        source,
                    })
            }
            Sink::Csv { path, writer } => {
                writer.write(&batch).map_err(|source| GenerateError::Csv {
                    path: path.clone(),
                    source,
                })
            }
            Sink::Memory(batches) => {
                batches.push(batch);
                Ok(())
            }
        }
    }

    /// Closes the file; returns its size in bytes, or the batches for memory.
    pub(crate) fn finish(self) -> Result<(u64, Vec<RecordBatch>), GenerateError> {
        let (path, mut inner) = match self {
            Sink::Parquet { path, writer } => {
                let inner = writer
                    .into_inner()
                    .map_err(|source| GenerateError::Parquet {
                        path: path.clone(),
                        source,
                    })?;
                (path, inner)
            }
            Sink::Csv { path, writer } => (path, writer.into_inner()),
            Sink::Memory(batches) => return Ok((0, batches)),
        };
        let io = |source| GenerateError::Io {
            path: path.clone(),
            source,
        };
        inner.flush().map_err(io)?;
        let size = inner.get_ref().metadata().map_err(io)?.len();
        Ok((size, Vec::new()))
    }
}
