//! Reading the columns of a row as every service's tables keep them (see [`crate::store`]):
//! enums by their value names, lists comma-separated, text one item a line, flags as BIGINT 0
//! or 1, times as BIGINT microseconds, 0 for "not set".
//!
//! Each function takes the row and the column's name; an enum's decoder is passed as a
//! function (`Cloud::from_str_name`, a domain enum's `from_name`), so no trait is needed. A
//! value no writer writes is an error, not a default: `sqlx::Error::ColumnDecode` naming the
//! column and the value.

use sqlx::any::AnyRow;
use sqlx::error::BoxDynError;
use sqlx::{Any, Row};
use std::fmt::Debug;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The error for a value of `column` that no writer writes.
pub fn undecodable(column: &str, value: impl Debug) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("{value:?} is not a value this service writes").into(),
    }
}

/// `column` read as `T` and decoded by `decode`, whose error (it should name the value) becomes
/// the `ColumnDecode` error of the column.
pub fn decoded<'r, T, U, E>(
    row: &'r AnyRow,
    column: &str,
    decode: impl FnOnce(T) -> Result<U, E>,
) -> sqlx::Result<U>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
    E: Into<BoxDynError>,
{
    decode(row.try_get(column)?).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: e.into(),
    })
}

/// An enum stored by its name, read from borrowed text: `enum_at(row, "cloud",
/// Cloud::from_str_name)`.
pub fn enum_at<E>(row: &AnyRow, column: &str, from_name: fn(&str) -> Option<E>) -> sqlx::Result<E> {
    let name: &str = row.try_get(column)?;
    from_name(name).ok_or_else(|| undecodable(column, name))
}

/// Enums stored as their names, comma-separated ("" for none).
pub fn enums_at<E>(
    row: &AnyRow,
    column: &str,
    from_name: fn(&str) -> Option<E>,
) -> sqlx::Result<Vec<E>> {
    let list: &str = row.try_get(column)?;
    split(list)
        .map(|name| from_name(name).ok_or_else(|| undecodable(column, name)))
        .collect()
}

/// Enum names comma-separated, as [`enums_at`] reads them: `names(&roles, Role::as_str_name)`.
pub fn names<E>(values: &[E], name: fn(&E) -> &'static str) -> String {
    values.iter().map(name).collect::<Vec<_>>().join(",")
}

/// The items of a comma-separated column's text, empty ones left out.
pub fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').filter(|item| !item.is_empty())
}

/// Text items stored comma-separated ("" for none).
pub fn list_at(row: &AnyRow, column: &str) -> sqlx::Result<Vec<String>> {
    let list: &str = row.try_get(column)?;
    Ok(split(list).map(str::to_string).collect())
}

/// Text items stored one a line, empty lines left out.
pub fn lines_at(row: &AnyRow, column: &str) -> sqlx::Result<Vec<String>> {
    let text: &str = row.try_get(column)?;
    Ok(text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// A flag: 0 or 1 in a BIGINT (sqlx's `Any` driver has no portable boolean).
pub fn flag_at(row: &AnyRow, column: &str) -> sqlx::Result<bool> {
    match row.try_get::<i64, _>(column)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(undecodable(column, other)),
    }
}

/// A BIGINT the contract has as an `int32`.
pub fn int32_at(row: &AnyRow, column: &str) -> sqlx::Result<i32> {
    let value: i64 = row.try_get(column)?;
    i32::try_from(value).map_err(|_| undecodable(column, value))
}

/// A BIGINT where 0 means "not set" (a time that may be unset, a duration with no end).
pub fn optional_at(row: &AnyRow, column: &str) -> sqlx::Result<Option<i64>> {
    let value: i64 = row.try_get(column)?;
    Ok((value != 0).then_some(value))
}

/// A time stored as microseconds since the Unix epoch.
pub fn time_at(row: &AnyRow, column: &str) -> sqlx::Result<SystemTime> {
    Ok(time_of(row.try_get(column)?))
}

/// A time stored as microseconds since the Unix epoch, 0 for "never".
pub fn optional_time_at(row: &AnyRow, column: &str) -> sqlx::Result<Option<SystemTime>> {
    Ok(optional_at(row, column)?.map(time_of))
}

/// Microseconds since the Unix epoch (before it if negative) as a `SystemTime`.
fn time_of(micros: i64) -> SystemTime {
    let since = Duration::from_micros(micros.unsigned_abs());
    if micros < 0 {
        UNIX_EPOCH - since
    } else {
        UNIX_EPOCH + since
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use partnerhub_proto::types::{Cloud, Role};
    use sqlx::any::AnyPoolOptions;

    /// The one row a `SELECT` of literals gives, from a temporary SQLite database.
    async fn row(select: &'static str) -> AnyRow {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = AnyPoolOptions::new().connect(&url).await.unwrap();
        sqlx::query(select).fetch_one(&pool).await.unwrap()
    }

    fn says(result: sqlx::Result<impl Debug>, column: &str, value: &str) {
        match result {
            Err(sqlx::Error::ColumnDecode { index, source }) => {
                assert_eq!(index, column);
                assert!(source.to_string().contains(value), "{source}");
            }
            other => panic!("{column}: expected a decode error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn enums_decode_by_name_or_name_the_column_and_value() {
        let r = row("SELECT 'CLOUD_WORLDWIDE' AS cloud, 'CLOUD_MARS' AS bad, \
             'ROLE_GLOBAL_ADMIN,ROLE_USER_ADMIN' AS roles, '' AS none, \
             'ROLE_GLOBAL_ADMIN,ROLE_KING' AS bad_roles")
        .await;
        assert_eq!(
            enum_at(&r, "cloud", Cloud::from_str_name).unwrap(),
            Cloud::Worldwide
        );
        says(
            enum_at(&r, "bad", Cloud::from_str_name),
            "bad",
            "CLOUD_MARS",
        );
        let roles = enums_at(&r, "roles", Role::from_str_name).unwrap();
        assert_eq!(roles, [Role::GlobalAdmin, Role::UserAdmin]);
        assert_eq!(
            names(&roles, Role::as_str_name),
            "ROLE_GLOBAL_ADMIN,ROLE_USER_ADMIN"
        );
        assert_eq!(enums_at(&r, "none", Role::from_str_name).unwrap(), []);
        says(
            enums_at(&r, "bad_roles", Role::from_str_name),
            "bad_roles",
            "ROLE_KING",
        );
        // A missing column is sqlx's own error.
        assert!(matches!(
            enum_at(&r, "nope", Cloud::from_str_name),
            Err(sqlx::Error::ColumnNotFound(_))
        ));
    }

    #[tokio::test]
    async fn flags_are_zero_or_one_and_nothing_else() {
        let r = row("SELECT 0 AS no, 1 AS yes, 2 AS two, -1 AS minus").await;
        assert!(!flag_at(&r, "no").unwrap());
        assert!(flag_at(&r, "yes").unwrap());
        says(flag_at(&r, "two"), "two", "2");
        says(flag_at(&r, "minus"), "minus", "-1");
    }

    #[tokio::test]
    async fn numbers_and_times_with_zero_for_unset() {
        let r = row(
            "SELECT 0 AS zero, 1700000000000001 AS n, -1000000 AS before, 2147483647 AS small, \
             2147483648 AS big",
        )
        .await;
        assert_eq!(optional_at(&r, "zero").unwrap(), None);
        assert_eq!(optional_at(&r, "n").unwrap(), Some(1_700_000_000_000_001));
        assert_eq!(optional_time_at(&r, "zero").unwrap(), None);
        let at = UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_001);
        assert_eq!(optional_time_at(&r, "n").unwrap(), Some(at));
        assert_eq!(time_at(&r, "n").unwrap(), at);
        assert_eq!(time_at(&r, "zero").unwrap(), UNIX_EPOCH);
        assert_eq!(
            time_at(&r, "before").unwrap(),
            UNIX_EPOCH - Duration::from_secs(1)
        );
        assert_eq!(int32_at(&r, "small").unwrap(), i32::MAX);
        says(int32_at(&r, "big"), "big", "2147483648");
    }

    #[tokio::test]
    async fn lists_and_lines() {
        let r = row(
            "SELECT 'SE,,NO' AS codes, '' AS none, 'one' || char(10) || char(10) || 'two' AS lines",
        )
        .await;
        assert_eq!(list_at(&r, "codes").unwrap(), ["SE", "NO"]);
        assert_eq!(list_at(&r, "none").unwrap(), Vec::<String>::new());
        assert_eq!(lines_at(&r, "lines").unwrap(), ["one", "two"]);
        assert_eq!(lines_at(&r, "none").unwrap(), Vec::<String>::new());
        assert_eq!(split(",a,,b,").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[tokio::test]
    async fn decoded_passes_the_decoders_error_on_with_the_column() {
        let r = row("SELECT 7 AS n, 'x' AS text").await;
        let even = |n: i64| {
            if n % 2 == 0 {
                Ok(n)
            } else {
                Err(format!("{n} is odd"))
            }
        };
        says(decoded(&r, "n", even), "n", "7 is odd");
        let len = decoded(&r, "text", |s: &str| Ok::<_, String>(s.len())).unwrap();
        assert_eq!(len, 1);
    }
}
