//! The Postgres connection of a shared ledger. The ledger is synchronous
//! and is called from async code, so the async client (`tokio-postgres`)
//! lives on a thread of its own with a small runtime of its own; each
//! statement is sent to it over a channel and its answer awaited. (The
//! blocking `postgres` crate would panic inside the caller's runtime.)

use std::str::FromStr;
use std::sync::mpsc;

use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};

use super::db::{dollar_placeholders, DbError, Row, Value};

mod tls;

type Job = Box<dyn FnOnce(&Conn) + Send>;

struct Conn {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

/// A connection owned by its own thread.
pub(crate) struct Pg {
    jobs: mpsc::Sender<Job>,
    /// The password, to mask in any message that might echo it.
    password: Option<String>,
}

/// True when the ledger setting names a Postgres server, not a file.
pub(crate) fn is_url(ledger: &str) -> bool {
    ledger.starts_with("postgres://") || ledger.starts_with("postgresql://")
}

/// The ledger URL as it may be shown: its password masked.
pub(crate) fn shown(url: &str) -> String {
    crate::util::redact::redact_url(url)
}

impl Pg {
    /// Connects to `url` (`${ENV}` expanded; the password from the URL or
    /// `PGPASSWORD`).
    pub(crate) fn connect(url: &str) -> Result<Pg, DbError> {
        let expanded =
            crate::util::env::expand(url).map_err(|e| DbError::Postgres(e.to_string()))?;
        let (url, tls) = tls::from_url(expanded.expose());
        let mut config = tokio_postgres::Config::from_str(&url).map_err(|_| {
            DbError::Postgres(
                "not a valid postgres:// URL; write postgres://USER@HOST:PORT/DATABASE[?sslmode=require]".into(),
            )
        })?;
        let connector = tls.connector()?;
        if config.get_password().is_none() {
            if let Some(p) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
                config.password(p);
            }
        }
        config.application_name("storyforge");
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter(|p| !p.is_empty());
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::channel::<Result<(), DbError>>();
        std::thread::Builder::new()
            .name("ledger-postgres".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready.send(Err(DbError::Postgres(e.to_string())));
                        return;
                    }
                };
                let client = rt.block_on(async {
                    let client = match connector {
                        Some(tls) => {
                            let (client, connection) = config.connect(tls).await?;
                            tokio::spawn(connection);
                            client
                        }
                        None => {
                            let (client, connection) =
                                config.connect(tokio_postgres::NoTls).await?;
                            tokio::spawn(connection);
                            client
                        }
                    };
                    Ok::<_, tokio_postgres::Error>(client)
                });
                let conn = match client {
                    Ok(client) => Conn { rt, client },
                    Err(e) => {
                        let _ = ready.send(Err(tls::explain(describe(&e))));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                while let Ok(job) = inbox.recv() {
                    job(&conn);
                }
            })
            .map_err(|e| DbError::Postgres(e.to_string()))?;
        let pg = Pg { jobs, password };
        match connected.recv() {
            Ok(Ok(())) => Ok(pg),
            Ok(Err(e)) => Err(pg.masked(e)),
            Err(_) => Err(DbError::Postgres("the connection thread ended".into())),
        }
    }

    fn masked(&self, error: DbError) -> DbError {
        let Some(p) = &self.password else {
            return error;
        };
        let mask = |m: String| m.replace(p.as_str(), crate::util::redact::MASK);
        match error {
            DbError::Postgres(m) => DbError::Postgres(mask(m)),
            DbError::Duplicate(m) => DbError::Duplicate(mask(m)),
            other => other,
        }
    }

    /// Runs `f` on the connection's thread and waits for its answer.
    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Conn) -> Result<R, tokio_postgres::Error> + Send + 'static,
    ) -> Result<R, DbError> {
        let (reply, answer) = mpsc::channel();
        self.jobs
            .send(Box::new(move |c: &Conn| {
                let _ = reply.send(f(c).map_err(|e| describe(&e)));
            }))
            .map_err(|_| DbError::Postgres("the connection thread ended".into()))?;
        match answer.recv() {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(self.masked(e)),
            Err(_) => Err(DbError::Postgres("the connection thread ended".into())),
        }
    }

    pub(crate) fn execute(&self, sql: &str, p: &[Value]) -> Result<usize, DbError> {
        let sql = dollar_placeholders(sql);
        let p = p.to_vec();
        self.call(move |c| {
            let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|v| v as _).collect();
            c.rt.block_on(c.client.execute(sql.as_str(), &refs))
        })
        .map(|n| n as usize)
    }

    pub(crate) fn query(&self, sql: &str, p: &[Value]) -> Result<Vec<Row>, DbError> {
        let sql = dollar_placeholders(sql);
        let p = p.to_vec();
        self.call(move |c| {
            let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|v| v as _).collect();
            let rows = c.rt.block_on(c.client.query(sql.as_str(), &refs))?;
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get::<_, Value>(i))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Row)
                })
                .collect()
        })
    }

    pub(crate) fn batch(&self, sql: &str) -> Result<(), DbError> {
        let sql = sql.to_string();
        self.call(move |c| c.rt.block_on(c.client.batch_execute(&sql)))
    }
}

/// The server's message (with its detail), or the client's; a unique
/// key refused as [`DbError::Duplicate`].
fn describe(e: &tokio_postgres::Error) -> DbError {
    let message = match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({d})", db.message()),
            None => db.message().to_string(),
        },
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    };
    match e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        true => DbError::Duplicate(message),
        false => DbError::Postgres(message),
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Real(f) => f.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Value, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            _ => Value::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Value, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}
