//! Marks of erasures under way, beside the keys in `AUTH_KEYS`
//! (`authd.key.<project>.<customer>.erasing`, ids only): made before
//! `customer.erased`, removed with `customer.erasure.completed`, so that a
//! services instance that starts finds the erasures a crash left unfinished.

use super::{DataKeys, ERASING, KEY_STREAM, KeyError, key_subject};

impl DataKeys {
    /// Marks the customer's erasure as under way (before `customer.erased`
    /// is appended): a services instance that starts finds the erasures a
    /// crash left unfinished by these marks. They hold nothing but the
    /// subject's ids.
    pub async fn mark_erasing(&self, project: &str, customer: &str) -> Result<(), KeyError> {
        let subject = format!("{}{ERASING}", key_subject(project, customer)?);
        let ack = self
            .js
            .publish(subject, Vec::new().into())
            .await
            .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        ack.await
            .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        Ok(())
    }

    /// The erasure is finished: its mark goes.
    pub async fn unmark_erasing(&self, project: &str, customer: &str) -> Result<(), KeyError> {
        let subject = format!("{}{ERASING}", key_subject(project, customer)?);
        let stream = self
            .js
            .get_stream_no_info(KEY_STREAM)
            .await
            .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        loop {
            let Some((seq, _)) = self.last(&subject).await? else {
                return Ok(());
            };
            stream
                .delete_message(seq)
                .await
                .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        }
    }

    /// The erasures marked and not finished: (project, customer, when the
    /// mark was made, Unix ms).
    pub async fn erasing(&self) -> Result<Vec<(String, String, i64)>, KeyError> {
        let mut out = Vec::new();
        self.scan(&format!("authd.key.*.*{ERASING}"), |m| {
            let at = m
                .info()
                .map(|i| (i.published.unix_timestamp_nanos() / 1_000_000) as i64)
                .unwrap_or(0);
            let mut tokens = m.subject.split('.').skip(2);
            if let (Some(project), Some(customer)) = (tokens.next(), tokens.next()) {
                out.push((project.to_string(), customer.to_string(), at));
            }
            Ok(true)
        })
        .await?;
        Ok(out)
    }
}
