//! The integration-test environment: a real `nats-server -js` on a free
//! loopback port with a temp store, real SQLite files, and authd's roles
//! started in-process against them. Everything is torn down on drop.
#![allow(dead_code, unreachable_pub)]

pub mod cluster;
pub mod disk;
pub mod load;
pub mod node;
pub mod personal;
pub mod smtp;

use std::time::Duration;

use authd::{
    app::{self, Config, GatewayHandle, Keys},
    nats_server::NatsServer,
};
use authd_events::EventStore;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Cheap argon2 parameters: tests hash a lot. The defaults are exercised by
/// `services::password` tests and the `authd dev` process test.
pub const TEST_HASH: authd_services::password::HashParams = authd_services::password::HashParams {
    m_cost: 64,
    t_cost: 1,
    p_cost: 1,
};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub nats: NatsServer,
    pub client: async_nats::Client,
    pub store: EventStore,
    pub config: Config,
    pub keys: Keys,
    pub gateway: Option<GatewayHandle>,
    pub services: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub mailer: Option<(
        tokio::task::JoinHandle<anyhow::Result<()>>,
        CancellationToken,
    )>,
    pub smtp: Option<smtp::SmtpServer>,
    pub shutdown: CancellationToken,
    pub api_key: String,
    pub admin_key: String,
    pub operator_key: String,
    pub project_id: String,
    pub http: reqwest::Client,
}

impl TestEnv {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        // RUST_LOG=debug shows what the roles do; captured per test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let nats = NatsServer::start(&dir.path().join("nats"), None).expect("nats-server starts");
        let mut config = Config::new(dir.path().join("data"), nats.url());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
        config.hash = TEST_HASH;
        config.dev = true;
        // Outside dev too (some tests turn dev off).
        config.operator_key_file = Some(dir.path().join("data").join("operator.key"));
        config.command_timeout = Duration::from_secs(3);
        // Tests hammer single accounts on purpose; the limits have their own test.
        config.limits.per_ip_per_minute = 1_000_000;
        config.limits.per_account_per_minute = 1_000_000;
        tweak(&mut config);
        let keys = Keys::load(&config).unwrap();
        let nats_conn = app::connect(&config.nats_url).await.unwrap();
        let store = app::open_store_with(&nats_conn, config.store_config())
            .await
            .unwrap();
        let store = app::with_data_keys(store, &keys.data, true, config.stream_replicas)
            .await
            .unwrap();
        let client = nats_conn.client.clone();
        let shutdown = CancellationToken::new();
        let mut env = Self {
            dir,
            nats,
            client,
            store,
            config,
            keys,
            gateway: None,
            services: None,
            mailer: None,
            smtp: None,
            shutdown,
            api_key: String::new(),
            admin_key: String::new(),
            operator_key: String::new(),
            project_id: String::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        env.start_services();
        env.start_gateway().await;
        let dev = app::ensure_dev_project(&env.config, &env.client, env.gateway.as_ref().unwrap())
            .await
            .unwrap();
        env.api_key = dev.public_api_key;
        env.admin_key = dev.admin_key;
        env.operator_key = dev.operator_key.expect("dev has an operator key");
        env.project_id = dev.project_id;
        env
    }

    /// Like `start`, with a real SMTP server and the mailer role delivering to it.
    pub async fn start_with_mail() -> Self {
        Self::start_with_mail_and(|_| {}).await
    }

    pub async fn start_with_mail_and(tweak: impl FnOnce(&mut Config)) -> Self {
        let smtp = smtp::SmtpServer::start(0);
        let url = smtp.url();
        Self::start_mailing_to(smtp, |c| {
            c.smtp_url = Some(url);
            tweak(c);
        })
        .await
    }

    /// authd with its mailer running, configured by `tweak` (which names
    /// the SMTP URL) to deliver to `smtp`.
    pub async fn start_mailing_to(smtp: smtp::SmtpServer, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut env = Self::start_with(tweak).await;
        env.smtp = Some(smtp);
        env.start_mailer();
        env
    }

    pub fn start_mailer(&mut self) {
        let (config, client) = (self.config.clone(), self.client.clone());
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move { app::run_mailer(&config, client, token).await });
        self.mailer = Some((task, stop));
    }

    pub async fn stop_mailer(&mut self) {
        if let Some((task, stop)) = self.mailer.take() {
            stop.cancel();
            task.await.unwrap().unwrap();
        }
    }

    pub fn smtp(&self) -> &smtp::SmtpServer {
        self.smtp.as_ref().expect("started with mail")
    }

    /// POSTs to the admin API with the project's secret key.
    pub async fn admin(&self, query: &str, variables: Value) -> Value {
        self.admin_as(&self.admin_key, None, query, variables).await
    }

    /// POSTs to the admin API with `key`, naming `project` in `X-Project-Id`.
    pub async fn admin_as(
        &self,
        key: &str,
        project: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        let mut request = self.http.post(self.url("/graphql/admin")).bearer_auth(key);
        if let Some(project) = project {
            request = request.header("x-project-id", project);
        }
        request
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POSTs to the Storefront API with the project's public key and an
    /// optional `Authorization: Bearer` token.
    pub async fn storefront(&self, bearer: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(self.url("/graphql/storefront"))
            .header("x-api-key", &self.api_key)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    /// A new Storefront customer (`PASSWORD`), signed in: (id, token).
    pub async fn storefront_customer(&self, email: &str) -> (String, String) {
        let created = self
            .storefront(
                None,
                "mutation C($i: CustomerCreateInput!) { customerCreate(input: $i) { customer { id } } }",
                json!({ "i": { "email": email, "password": PASSWORD } }),
            )
            .await;
        let id = created["data"]["customerCreate"]["customer"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_string();
        let t = self
            .storefront(
                None,
                "mutation T($i: CustomerAccessTokenCreateInput!) { customerAccessTokenCreate(input: $i) {
                   customerAccessToken { accessToken } } }",
                json!({ "i": { "email": email, "password": PASSWORD } }),
            )
            .await;
        let token = t["data"]["customerAccessTokenCreate"]["customerAccessToken"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{t}"))
            .to_string();
        (id, token)
    }

    /// Changes the project's configuration through the admin API.
    pub async fn configure(&self, input: Value) {
        let r = self
            .admin(
                "mutation C($input: ProjectConfigInput!) { projectConfigure(input: $input) { success errors { code message } } }",
                json!({ "input": input }),
            )
            .await;
        assert_eq!(r["data"]["projectConfigure"]["success"], true, "{r}");
    }

    pub fn start_services(&mut self) {
        let (config, keys, client, store, shutdown) = (
            self.config.clone(),
            self.keys.clone(),
            self.client.clone(),
            self.store.clone(),
            self.shutdown.clone(),
        );
        self.services = Some(tokio::spawn(async move {
            app::run_services(&config, &keys, client, store, shutdown).await
        }));
    }

    pub async fn start_gateway(&mut self) {
        let g = app::start_gateway(
            &self.config,
            &self.keys,
            self.client.clone(),
            self.store.clone(),
            self.shutdown.clone(),
        )
        .await
        .unwrap();
        self.gateway = Some(g);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.gateway.as_ref().unwrap().addr, path)
    }

    /// On the operators' address (`--admin-listen`).
    pub fn operator_url(&self, path: &str) -> String {
        let g = self.gateway.as_ref().unwrap();
        format!("http://{}{}", g.admin_addr.unwrap(), path)
    }

    /// POSTs a GraphQL request with the project's API key and optional bearer token.
    pub async fn gql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(self.url("/graphql/public"))
            .header("x-api-key", &self.api_key)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        resp.json().await.unwrap()
    }

    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(None, query, variables).await
    }

    /// Raw POST: status and parsed body.
    pub async fn post_raw(
        &self,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let mut req = self.http.post(self.url("/graphql/public")).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
        )
    }

    pub async fn register(&self, email: &str, password: &str) -> Value {
        let v = self
            .gql(
                "mutation R($email: String!, $password: String!) {
                   customerRegister(email: $email, password: $password) {
                     success accessToken refreshToken user { id email } message
                     errors { field message code }
                   }
                 }",
                json!({ "email": email, "password": password }),
            )
            .await;
        v["data"]["customerRegister"].clone()
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        let v = self
            .gql(
                "mutation L($email: String!, $password: String!) {
                   customerLogin(email: $email, password: $password) {
                     success accessToken refreshToken user { id email } message
                     errors { field message code }
                   }
                 }",
                json!({ "email": email, "password": password }),
            )
            .await;
        v["data"]["customerLogin"].clone()
    }

    pub async fn refresh(&self, token: &str) -> Value {
        let v = self
            .gql(
                "mutation F($t: String!) {
                   customerRefreshToken(refreshToken: $t) {
                     success accessToken refreshToken message errors { field message code }
                   }
                 }",
                json!({ "t": token }),
            )
            .await;
        v["data"]["customerRefreshToken"].clone()
    }

    pub async fn current_user(&self, token: &str) -> Value {
        self.gql_as(
            Some(token),
            "{ currentUser { id email status } }",
            json!({}),
        )
        .await
    }

    /// Every message in the stream, raw: subject, headers and payload.
    pub async fn raw_messages(&self) -> Vec<async_nats::jetstream::message::StreamMessage> {
        let js = async_nats::jetstream::new(self.client.clone());
        let stream = js.get_stream("AUTH_EVENTS").await.unwrap();
        let last = self.store.last_stream_sequence().await.unwrap();
        let mut out = Vec::new();
        for seq in 1..=last {
            if let Ok(m) = stream.get_raw_message(seq).await {
                out.push(m);
            }
        }
        out
    }

    /// Every message of the log, decoded, with what is sealed opened (as
    /// the services and read models see it).
    pub async fn opened_messages(&self) -> Vec<authd_events::EventMessage> {
        let keys = self
            .store
            .data_keys()
            .expect("the test store has data keys");
        let mut out = Vec::new();
        for m in self.raw_messages().await {
            let mut msg = authd_events::EventMessage::decode(&m.payload).unwrap();
            keys.open(&mut msg).await.unwrap();
            out.push(msg);
        }
        out
    }

    pub async fn last_seq(&self) -> u64 {
        self.store.last_stream_sequence().await.unwrap()
    }

    pub fn read_model(&self) -> authd_projections::ReadModel {
        authd_projections::ReadModel::new(&authd_projections::resolve(
            &self.config.read_model_path(),
        ))
    }

    /// Stops the roles (not the broker) and waits for them.
    pub async fn stop_roles(&mut self) {
        self.shutdown.cancel();
        if let Some(g) = self.gateway.take() {
            g.done.await.unwrap().unwrap();
        }
        if let Some(s) = self.services.take() {
            s.await.unwrap().unwrap();
        }
        self.shutdown = CancellationToken::new();
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some((_, stop)) = &self.mailer {
            stop.cancel();
        }
    }
}
