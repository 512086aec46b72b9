//! The ledger's one connection layer: the same SQL (a portable subset:
//! `?N` placeholders, `ON CONFLICT … DO UPDATE`, `RETURNING`, TEXT
//! timestamps) run on the embedded SQLite file or on a shared Postgres
//! server. Everything above this module is written once.

use super::pg::Pg;

/// A value passed to or read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (BIGINT on Postgres; booleans are 0 and 1).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
}

/// Turns a Rust value into a statement parameter.
pub(crate) trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}
impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// The parameters of a statement: `params![a, b]`.
macro_rules! params {
    ($($e:expr),* $(,)?) => {
        &[$($crate::ledger::db::ToValue::to_value(&$e)),*] as &[$crate::ledger::db::Value]
    };
}
pub(crate) use params;

/// Reads a column of a [`Row`] as a Rust value.
pub(crate) trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, DbError>;
}

fn mismatch(v: &Value, want: &str) -> DbError {
    DbError::Conversion(format!("expected {want}, found {v:?}"))
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, DbError> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(mismatch(other, "text")),
        }
    }
}
impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, DbError> {
        match v {
            Value::Int(i) => Ok(*i),
            other => Err(mismatch(other, "an integer")),
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, DbError> {
        i64::from_value(v).map(|i| i != 0)
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, DbError> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub(crate) Vec<Value>);

impl Row {
    /// Column `i` as `T`.
    pub(crate) fn get<T: FromValue>(&self, i: usize) -> Result<T, DbError> {
        self.0
            .get(i)
            .ok_or_else(|| DbError::Conversion(format!("no column {i}")))
            .and_then(T::from_value)
    }
}

/// What the database said.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite's error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// Postgres's error (the connection URL's password masked).
    #[error("{0}")]
    Postgres(String),
    /// Postgres refused a row that would repeat a unique key.
    #[error("{0}")]
    Duplicate(String),
    /// A column did not hold what the ledger expects.
    #[error("unexpected column: {0}")]
    Conversion(String),
}

impl DbError {
    /// True when a unique key (a unique index or primary key) refused the
    /// write: another row holds that value.
    pub(crate) fn is_duplicate(&self) -> bool {
        match self {
            DbError::Duplicate(_) => true,
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ),
            _ => false,
        }
    }
}

/// Which SQL dialect a statement must be written in, where the portable
/// subset has no common form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// An open connection.
pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Pg),
}

impl Db {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub(crate) fn execute(&self, sql: &str, p: &[Value]) -> Result<usize, DbError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute(sql, rusqlite::params_from_iter(p.iter()))?),
            Db::Postgres(pg) => pg.execute(sql, p),
        }
    }

    /// Runs a query; its rows.
    pub(crate) fn query(&self, sql: &str, p: &[Value]) -> Result<Vec<Row>, DbError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare(sql)?;
                let n = stmt.column_count();
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(p.iter()), |r| {
                        (0..n)
                            .map(|i| r.get_ref(i).map(from_sqlite))
                            .collect::<rusqlite::Result<Vec<_>>>()
                            .map(Row)
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            }
            Db::Postgres(pg) => pg.query(sql, p),
        }
    }

    /// Runs statements without parameters, one after another.
    pub(crate) fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(pg) => pg.batch(sql),
        }
    }

    /// Starts a transaction that holds the write lock from its first
    /// statement (SQLite's `BEGIN IMMEDIATE`); rolled back unless committed.
    pub(crate) fn begin(&self) -> Result<Tx<'_>, DbError> {
        self.batch(match self {
            Db::Sqlite(_) => "BEGIN IMMEDIATE",
            Db::Postgres(_) => "BEGIN",
        })?;
        Ok(Tx {
            db: self,
            open: true,
        })
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into()),
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// An open transaction: [`Tx::commit`] it, or it rolls back when dropped.
pub(crate) struct Tx<'a> {
    db: &'a Db,
    open: bool,
}

impl Tx<'_> {
    pub(crate) fn commit(mut self) -> Result<(), DbError> {
        self.open = false;
        self.db.batch("COMMIT")
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.batch("ROLLBACK");
        }
    }
}

/// `?N` placeholders as Postgres's `$N` (outside quoted text).
pub(crate) fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => quoted = !quoted,
            '?' if !quoted => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_outside_quotes_become_dollars() {
        assert_eq!(
            dollar_placeholders("SELECT ?1, '?x' FROM t WHERE a = ?12 AND s LIKE '%://%?%'"),
            "SELECT $1, '?x' FROM t WHERE a = $12 AND s LIKE '%://%?%'"
        );
    }
}
