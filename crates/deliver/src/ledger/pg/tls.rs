//! TLS to the Postgres server, asked for the libpq way in the URL:
//! `?sslmode=require` (also `verify-ca`, `verify-full`: the certificate
//! and the host name are always checked) and `sslrootcert=FILE` (PEM) for
//! a server whose certificate no system root signs. Without `sslmode` (or
//! with `disable`) the connection is plain, as before; `prefer` uses TLS
//! when the server offers it. Never unverified: a certificate the roots do
//! not vouch for is refused with what to do.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls_platform_verifier::BuilderVerifierExt;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::super::db::DbError;

/// What the URL asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Tls {
    /// `sslmode` as written (`require`, `verify-full`, …).
    mode: Option<String>,
    /// `sslrootcert`: the CA file to trust instead of the system's roots.
    root: Option<PathBuf>,
}

/// Splits the TLS parameters tokio-postgres does not know (`sslrootcert`,
/// `sslmode=verify-*`) off `url`: the URL it parses, and what was asked.
pub(super) fn from_url(url: &str) -> (String, Tls) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), Tls::default());
    };
    let mut tls = Tls::default();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslrootcert" => {
                let path = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
                tls.root = Some(PathBuf::from(path.as_ref()));
            }
            "sslmode" => {
                tls.mode = Some(value.to_string());
                // tokio-postgres knows disable/prefer/require; the checks
                // verify-* ask for are always made here.
                let value = if value.starts_with("verify-") {
                    "require"
                } else {
                    value
                };
                kept.push(format!("sslmode={value}"));
            }
            _ => kept.push(pair.to_string()),
        }
    }
    let url = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    (url, tls)
}

impl Tls {
    /// The TLS connector, or `None` for a plain connection.
    pub(super) fn connector(&self) -> Result<Option<MakeRustlsConnect>, DbError> {
        let wanted = match self.mode.as_deref() {
            None | Some("disable") => self.root.is_some(),
            Some("prefer" | "require" | "verify-ca" | "verify-full") => true,
            Some(other) => {
                return Err(DbError::Postgres(format!(
                    "sslmode={other} is not known; write sslmode=require (or verify-full, prefer, disable)"
                )))
            }
        };
        if !wanted || self.mode.as_deref() == Some("disable") {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| DbError::Postgres(format!("TLS: {e}")))?;
        let config = match &self.root {
            Some(file) => {
                let shown = file.display();
                let mut roots = rustls::RootCertStore::empty();
                let certs = CertificateDer::pem_file_iter(file)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        DbError::Postgres(format!(
                            "sslrootcert {shown}: cannot read its certificates ({e}); give the PEM file of the server's CA"
                        ))
                    })?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(DbError::Postgres(format!(
                        "sslrootcert {shown}: holds no usable certificate; give the PEM file of the server's CA"
                    )));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            None => builder
                .with_platform_verifier()
                .map_err(|e| DbError::Postgres(format!("TLS: the system's roots: {e}")))?
                .with_no_client_auth(),
        };
        Ok(Some(MakeRustlsConnect::new(config)))
    }
}

/// Adds what to do to a connection error that came from the certificate.
pub(super) fn explain(error: DbError) -> DbError {
    match error {
        DbError::Postgres(m) if m.contains("certificate") => DbError::Postgres(format!(
            "{m}; the server's certificate is not trusted for this host: add sslrootcert=FILE (its CA, PEM) to the URL, or connect by the name the certificate was made for"
        )),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_keeps_what_tokio_postgres_reads_and_gives_up_the_rest() {
        let (url, tls) = from_url(
            "postgres://u@db:5432/l?sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=5",
        );
        assert_eq!(
            url,
            "postgres://u@db:5432/l?sslmode=require&connect_timeout=5"
        );
        assert_eq!(tls.mode.as_deref(), Some("verify-full"));
        assert_eq!(tls.root, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(from_url("postgres://u@db/l").1, Tls::default());
        // A path with a space, as a URL writes it.
        let (_, tls) = from_url("postgres://u@db/l?sslmode=require&sslrootcert=/etc/my%20ca.pem");
        assert_eq!(tls.root, Some(PathBuf::from("/etc/my ca.pem")));
    }

    #[test]
    fn tls_only_when_asked_and_an_unknown_mode_is_refused() {
        assert!(from_url("postgres://u@db/l")
            .1
            .connector()
            .unwrap()
            .is_none());
        assert!(from_url("postgres://u@db/l?sslmode=disable")
            .1
            .connector()
            .unwrap()
            .is_none());
        assert!(from_url("postgres://u@db/l?sslmode=require")
            .1
            .connector()
            .unwrap()
            .is_some());
        let e = from_url("postgres://u@db/l?sslmode=allow")
            .1
            .connector()
            .err()
            .unwrap();
        assert!(e.to_string().contains("sslmode=allow is not known"), "{e}");
        let e = from_url("postgres://u@db/l?sslmode=require&sslrootcert=/nonexistent.pem")
            .1
            .connector()
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("sslrootcert /nonexistent.pem"),
            "{e}"
        );
    }
}
