//! Where a warehouse's Delta tables live: in its folder, or in an S3-compatible object store.
//!
//! The small files that say what is committed (`gridassess.json`, each tenant's
//! `current.json`, rules, limits, users, kept results) always stay in the warehouse folder,
//! where a rename replaces them atomically and a file lock keeps a second writer out. Only the
//! tables, the data, may live in an object store (`gridassess init --tables s3://BUCKET/PREFIX`),
//! so that cluster executors on other machines read them without a shared filesystem. The
//! manifest stays the truth: a reader reads the Delta versions `current.json` names, wherever
//! their files are.
//!
//! Credentials and the endpoint come from the environment, never from a file of ours:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (or `AWS_DEFAULT_REGION`),
//! `AWS_ENDPOINT` for a store that is not Amazon's (MinIO, Ceph, …), `AWS_ALLOW_HTTP=true` for
//! one without TLS. Every Delta commit is a create-if-absent write (`If-None-Match: *`), which
//! S3 and the S3-compatible stores honour, so two writers can never both commit one version.

use std::sync::{Arc, Once};

use deltalake::logstore::{
    LogStore, LogStoreFactory, ObjectStoreFactory, ObjectStoreRef, StorageConfig, default_logstore,
    logstore_factories, object_store_factories,
};
use deltalake::{DeltaResult, DeltaTableError};
use futures::StreamExt;
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreScheme};
use url::Url;

use crate::{Result, WarehouseError};

/// The URL schemes an object store of tables may have.
const SCHEMES: &[&str] = &["s3", "s3a"];

/// Checks that `url` names a place in an S3-compatible store (`s3://BUCKET[/PREFIX]`), and
/// returns it as a folder URL (ending in `/`), so that tables are placed inside it.
pub fn parse_tables_url(text: &str) -> Result<Url> {
    let bad = |reason: &str| WarehouseError::TablesUrl {
        url: text.to_string(),
        reason: reason.to_string(),
    };
    let mut url = Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    if !SCHEMES.contains(&url.scheme()) {
        return Err(bad("only s3://BUCKET/PREFIX is supported"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it names no bucket"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad(
            "credentials and options come from the environment (AWS_ACCESS_KEY_ID, AWS_ENDPOINT, …), not the URL",
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The object store holding `url` (its bucket), built from the environment's settings.
pub fn object_store(url: &Url) -> Result<Arc<dyn ObjectStore>> {
    let store = AmazonS3Builder::from_env()
        .with_url(url.as_str())
        // Delta commits a version by a create-if-absent write; this is what makes it one.
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .build()
        .map_err(|e| WarehouseError::TablesUnreachable {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    Ok(Arc::new(store))
}

/// Whether the object store at `url` answers with the environment's credentials, and whether
/// anything is stored under it. A warehouse whose tables cannot be reached says so when it is
/// made or when an executor starts, rather than at its first load or query.
pub async fn probe(url: &Url) -> Result<bool> {
    let store = object_store(url)?;
    let prefix = StorePath::from_url_path(url.path()).map_err(|e| WarehouseError::TablesUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    let mut listing = store.list(Some(&prefix));
    match listing.next().await {
        None => Ok(false),
        Some(Ok(_)) => Ok(true),
        Some(Err(e)) => Err(WarehouseError::TablesUnreachable {
            url: url.to_string(),
            reason: plain_reason(&e.to_string()),
        }),
    }
}

/// The store's answer in words where S3 gave one of its well-known codes (its whole answer is
/// an XML document); otherwise the answer as it came.
fn plain_reason(answer: &str) -> String {
    const CODES: &[(&str, &str)] = &[
        ("NoSuchBucket", "the bucket does not exist"),
        (
            "InvalidAccessKeyId",
            "the store does not know the access key",
        ),
        (
            "SignatureDoesNotMatch",
            "the secret key does not match the access key",
        ),
        ("AccessDenied", "the credentials may not list the bucket"),
    ];
    CODES
        .iter()
        .find(|(code, _)| answer.contains(&format!("<Code>{code}</Code>")))
        .map_or_else(|| answer.to_string(), |(_, plain)| plain.to_string())
}

/// Teaches deltalake to open and commit tables at `s3://` URLs with [`object_store`]'s stores
/// (its own S3 support is a separate crate built on the AWS SDK, which this needs none of).
/// Safe to call any number of times.
pub(crate) fn register_with_deltalake() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for scheme in SCHEMES {
            let url = Url::parse(&format!("{scheme}://")).expect("a scheme is a URL");
            object_store_factories().insert(url.clone(), Arc::new(S3Tables));
            logstore_factories().insert(url, Arc::new(S3Tables));
        }
    });
}

/// deltalake's factories for `s3://` tables: the store from the environment, and Delta's
/// default log store, which commits by a create-if-absent write.
struct S3Tables;

impl ObjectStoreFactory for S3Tables {
    fn parse_url_opts(
        &self,
        url: &Url,
        _config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, StorePath)> {
        let store = object_store(url).map_err(|e| DeltaTableError::Generic(e.to_string()))?;
        let (_, path) = ObjectStoreScheme::parse(url)
            .map_err(|e| DeltaTableError::Generic(format!("{url}: {e}")))?;
        Ok((store, path))
    }
}

impl LogStoreFactory for S3Tables {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tables_url_names_a_bucket_and_nothing_secret() {
        assert_eq!(
            parse_tables_url("s3://county-data/gridassess")
                .unwrap()
                .as_str(),
            "s3://county-data/gridassess/"
        );
        assert_eq!(
            parse_tables_url("s3://county-data").unwrap().as_str(),
            "s3://county-data/"
        );
        for (bad, why) in [
            ("/srv/tables", "relative URL"),
            ("file:///srv/tables", "only s3://"),
            ("s3:///prefix", "no bucket"),
            ("s3://key:secret@bucket/p", "environment"),
            ("s3://bucket/p?region=cn-north-1", "environment"),
        ] {
            let e = parse_tables_url(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn an_s3_error_code_is_said_in_words_and_anything_else_as_it_came() {
        let answer = "404 Not Found: <?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code>\
                      <Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(plain_reason(answer), "the bucket does not exist");
        assert_eq!(
            plain_reason("error sending request: connection refused"),
            "error sending request: connection refused"
        );
    }
}
