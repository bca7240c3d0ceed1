//! Product keys' SQL (table `product_keys`, migration 0006).

use crate::domain::{KeyRedeemed, ProductKey};
use crate::error::Result;
use partnerhub_kit::row::int32_at;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

/// The columns of a key row.
macro_rules! key_columns {
    () => {
        "id, batch_id, key_hash, offer_id, quantity, country_code, create_time, \
         partner_tenant_id, customer_tenant_id, order_id, subscription_id, redeem_time"
    };
}

impl<'r> FromRow<'r, AnyRow> for ProductKey {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        let subscription_id: String = row.try_get("subscription_id")?;
        let redemption = if subscription_id.is_empty() {
            None
        } else {
            Some(KeyRedeemed {
                partner_tenant_id: row.try_get("partner_tenant_id")?,
                customer_tenant_id: row.try_get("customer_tenant_id")?,
                order_id: row.try_get("order_id")?,
                subscription_id,
                redeem_time: row.try_get("redeem_time")?,
            })
        };
        Ok(ProductKey {
            id: row.try_get("id")?,
            batch_id: row.try_get("batch_id")?,
            key_hash: row.try_get("key_hash")?,
            offer_id: row.try_get("offer_id")?,
            quantity: int32_at(row, "quantity")?,
            country_code: row.try_get("country_code")?,
            create_time: row.try_get("create_time")?,
            redemption,
        })
    }
}

/// Adds an issued, unredeemed key.
pub async fn insert(conn: &mut AnyConnection, key: &ProductKey) -> Result<()> {
    sqlx::query(
        "INSERT INTO product_keys \
         (id, batch_id, key_hash, offer_id, quantity, country_code, create_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.id)
    .bind(&key.batch_id)
    .bind(&key.key_hash)
    .bind(&key.offer_id)
    .bind(i64::from(key.quantity))
    .bind(&key.country_code)
    .bind(key.create_time)
    .execute(conn)
    .await?;
    Ok(())
}

/// The keys one `CreateProductKeys` issued, in issue order.
pub async fn batch(conn: &mut AnyConnection, batch_id: &str) -> Result<Vec<ProductKey>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        key_columns!(),
        " FROM product_keys WHERE batch_id = $1 ORDER BY id"
    ))
    .bind(batch_id)
    .fetch_all(conn)
    .await?)
}

/// The key stored by this hash, if one was issued.
pub async fn by_hash(conn: &mut AnyConnection, key_hash: &str) -> Result<Option<ProductKey>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        key_columns!(),
        " FROM product_keys WHERE key_hash = $1"
    ))
    .bind(key_hash)
    .fetch_optional(conn)
    .await?)
}

/// Marks key `id` redeemed with what it made, if it is still unredeemed; `false` when it was
/// redeemed already (by a concurrent call too: only one update finds it unredeemed).
pub async fn redeem(conn: &mut AnyConnection, id: &str, made: &KeyRedeemed) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE product_keys SET partner_tenant_id = $2, customer_tenant_id = $3, \
         order_id = $4, subscription_id = $5, redeem_time = $6 \
         WHERE id = $1 AND subscription_id = ''",
    )
    .bind(id)
    .bind(&made.partner_tenant_id)
    .bind(&made.customer_tenant_id)
    .bind(&made.order_id)
    .bind(&made.subscription_id)
    .bind(made.redeem_time)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
