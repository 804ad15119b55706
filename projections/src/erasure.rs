//! A customer's erasure in the read models: on `customer.erased` (not on
//! their key's destruction, which a gateway may not have seen) every row
//! of theirs goes or loses its personal columns; their orders stay, without
//! a shipping address; their audit history stays, with `[erased]` where a
//! client address or user agent was. The files are opened with
//! `secure_delete` and checkpointed after an erasure (`runner`), so the
//! deleted text is overwritten rather than left in free pages or the WAL.

use authd_events::RecordedMessage;
use rusqlite::{Transaction, params};

/// What the audit index shows where personal data was.
pub use authd_events::json::ERASED;

/// Whether the message erases a customer.
pub fn erases(m: &RecordedMessage) -> bool {
    m.message.erases()
}

/// The read model's rows of an erased customer.
pub(crate) fn erased(tx: &Transaction<'_>, project: &str, customer: &str) -> rusqlite::Result<()> {
    for sql in [
        "DELETE FROM customers WHERE project_id = ?1 AND id = ?2",
        "DELETE FROM customer_addresses WHERE project_id = ?1 AND customer_id = ?2",
        "DELETE FROM customer_tags WHERE project_id = ?1 AND customer_id = ?2",
        "DELETE FROM customer_metafields WHERE project_id = ?1 AND customer_id = ?2",
        "DELETE FROM customer_passkeys WHERE project_id = ?1 AND customer_id = ?2",
        // All ended; an earlier build's session starts may leave the log
        // with the erasure (`erased_orders`), so none stays here either.
        "DELETE FROM sessions WHERE project_id = ?1 AND customer_id = ?2",
        "UPDATE orders SET shipping_address = NULL WHERE project_id = ?1 AND customer_id = ?2",
    ] {
        tx.prepare_cached(sql)?
            .execute(params![project, customer])?;
    }
    Ok(())
}

/// The audit entries of messages an erasure deleted from the log (an
/// earlier build wrote them in plain): gone from the log, gone here,
/// whoever the entry is filed under (a session's or an order's).
pub(crate) fn erased_from_log(
    tx: &Transaction<'_>,
    project: &str,
    seqs: &[u64],
) -> rusqlite::Result<()> {
    // A session that left the log leaves nothing to attribute.
    let mut sessions = tx.prepare_cached(
        "DELETE FROM audit_sessions WHERE project_id = ?1 AND session_id IN
           (SELECT session_id FROM audit WHERE project_id = ?1 AND seq = ?2
              AND session_id IS NOT NULL)",
    )?;
    let mut delete = tx.prepare_cached("DELETE FROM audit WHERE project_id = ?1 AND seq = ?2")?;
    for seq in seqs {
        sessions.execute(params![project, *seq as i64])?;
        delete.execute(params![project, *seq as i64])?;
    }
    Ok(())
}

/// The orders an erasure deleted from the log (an earlier build recorded
/// them with the shipping address in plain; every record of such an
/// order goes, the first among them): a replay never sees them, so
/// neither does this read model.
pub(crate) fn erased_orders(
    tx: &Transaction<'_>,
    project: &str,
    customer: &str,
    seqs: &[u64],
) -> rusqlite::Result<()> {
    let mut find = tx.prepare_cached(
        "SELECT id FROM orders WHERE project_id = ?1 AND customer_id = ?2 AND position = ?3",
    )?;
    for seq in seqs {
        let ids: Vec<String> = find
            .query_map(params![project, customer, *seq as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in ids {
            for sql in [
                "DELETE FROM order_line_items WHERE project_id = ?1 AND order_id = ?2",
                "DELETE FROM orders WHERE project_id = ?1 AND id = ?2",
            ] {
                tx.prepare_cached(sql)?.execute(params![project, id])?;
            }
        }
    }
    Ok(())
}

/// The audit index's rows of an erased customer.
pub(crate) fn erased_in_audit(
    tx: &Transaction<'_>,
    project: &str,
    customer: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE audit SET
           ip = CASE WHEN ip IS NULL THEN NULL ELSE ?3 END,
           user_agent = CASE WHEN user_agent IS NULL THEN NULL ELSE ?3 END
         WHERE project_id = ?1 AND customer_id = ?2",
    )?
    .execute(params![project, customer, ERASED])?;
    Ok(())
}
