//! Downloading from upstream and checking digests.

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Downloads `url` into memory (at most `limit` bytes).
pub fn download(url: &str, limit: u64) -> Result<Vec<u8>> {
    let mut response = ureq::get(url).call().with_context(|| {
        format!("download of {url} failed; check the network, or set DATA_MIRROR to a local copy")
    })?;
    let bytes = response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .with_context(|| format!("download of {url} broke off"))?;
    Ok(bytes)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex MD5 of `bytes` (the digest CIFAR-10's authors publish).
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    hex(&md5::Md5::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails unless `actual` equals `expected`, naming what was checked.
pub fn expect_digest(what: &str, actual: &str, expected: &str) -> Result<()> {
    if actual != expected {
        bail!(
            "{what} has digest {actual}, expected {expected}: the file is damaged or not the published one"
        );
    }
    Ok(())
}
