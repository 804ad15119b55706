//! The endpoints as the log says (kept up by the feed as it reads on), and
//! the enqueuing of each event for those that want it.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use async_nats::{HeaderMap, jetstream};
use authd_events::{
    Event, EventStore, RecordedMessage,
    webhook::{self, NO_CUSTOMER, Queued, WebhookEndpoint},
    webhook_endpoints,
};

/// Every project's endpoints as the log says at the feed's position.
#[derive(Clone, Default)]
pub struct Endpoints(Arc<RwLock<HashMap<String, Vec<WebhookEndpoint>>>>);

impl Endpoints {
    /// The endpoints as of sequence `to` (the feed's checkpoint).
    pub async fn load(store: &EventStore, to: u64) -> anyhow::Result<Self> {
        let endpoints = Self::default();
        store
            .scan_until("authd.evt.*.project.*", to, |m| {
                endpoints.apply(&m);
                Ok(())
            })
            .await?;
        Ok(endpoints)
    }

    /// Follows `m`'s changes to its project's endpoints.
    pub fn apply(&self, m: &RecordedMessage) {
        let project = &m.message.meta.tenant;
        for e in m.message.bodies() {
            let Event::Project(p) = e else { continue };
            if webhook_endpoints::changes_endpoints(p) {
                let mut all = self.0.write().expect("endpoints lock");
                webhook_endpoints::evolve(all.entry(project.clone()).or_default(), p);
            }
        }
    }

    /// The endpoint now.
    pub fn get(&self, project: &str, endpoint: &str) -> Option<WebhookEndpoint> {
        let all = self.0.read().expect("endpoints lock");
        all.get(project)?
            .iter()
            .find(|e| e.endpoint_id == endpoint)
            .cloned()
    }

    /// (project, endpoint id) of every endpoint.
    pub fn ids(&self) -> Vec<(String, String)> {
        let all = self.0.read().expect("endpoints lock");
        all.iter()
            .flat_map(|(p, list)| list.iter().map(move |e| (p.clone(), e.endpoint_id.clone())))
            .collect()
    }

    /// The enabled endpoints of `project` that want `type_name`.
    fn wanting(&self, project: &str, type_name: &str) -> Vec<String> {
        let all = self.0.read().expect("endpoints lock");
        all.get(project)
            .map(|list| {
                list.iter()
                    .filter(|e| e.enabled && e.wants(type_name))
                    .map(|e| e.endpoint_id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Puts the feed's events in the delivery queue.
#[derive(Clone)]
pub struct Enqueuer {
    js: jetstream::Context,
    endpoints: Endpoints,
}

impl Enqueuer {
    pub fn new(js: jetstream::Context, endpoints: Endpoints) -> Self {
        Self { js, endpoints }
    }

    /// Queues `m`'s events for the endpoints that want them (after `m`'s
    /// own changes to them: a new endpoint gets its creation, a deleted
    /// one not its deletion) into `pending`, whose confirmations `confirm`
    /// awaits: a chunk of the log is queued, then confirmed at once.
    pub async fn enqueue(&self, m: &RecordedMessage, pending: &mut Pending) -> anyhow::Result<()> {
        self.endpoints.apply(m);
        let project = &m.message.meta.tenant;
        let lane = authd_events::json::customer_of(m).unwrap_or(NO_CUSTOMER);
        for (idx, e) in m.message.events.iter().enumerate() {
            for endpoint in self.endpoints.wanting(project, e.body.type_name()) {
                let queued = Queued {
                    seq: m.seq,
                    idx: idx as u32,
                };
                let mut headers = HeaderMap::new();
                headers.insert(
                    "Nats-Msg-Id",
                    format!("{endpoint}.{}.{idx}", m.seq).as_str(),
                );
                let ack = self
                    .js
                    .publish_with_headers(
                        webhook::queue_subject(project, &endpoint, lane),
                        headers,
                        serde_json::to_vec(&queued)?.into(),
                    )
                    .await?;
                pending.0.push(ack);
            }
        }
        Ok(())
    }
}

/// Deliveries queued and not yet confirmed by the broker.
#[derive(Default)]
pub struct Pending(Vec<jetstream::context::PublishAckFuture>);

impl Pending {
    /// Returns once the queue holds every delivery handed to it.
    pub async fn confirm(&mut self) -> anyhow::Result<()> {
        let acks =
            futures::future::join_all(self.0.drain(..).map(std::future::IntoFuture::into_future));
        let acks = tokio::time::timeout(Duration::from_secs(5), acks)
            .await
            .map_err(|_| anyhow::anyhow!("the webhook queue did not confirm in time"))?;
        for ack in acks {
            ack?;
        }
        Ok(())
    }
}
