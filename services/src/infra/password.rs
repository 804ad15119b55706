//! Password hashing with argon2id, off the async runtime, with bounded
//! concurrency and a bounded queue, and the input rules checked before any
//! hashing.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{Output, ParamsString, PasswordHash, SaltString},
};

use authd_events::PasswordPolicy;

pub use crate::error::{BUSY_RETRY_AFTER_MS, HashError};
use crate::error::{DomainError, PolicyRule};

/// Longer inputs are refused before hashing, so nobody can make the server
/// hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// NIST 800-63B's minimum for memorized secrets chosen by the user.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for HashParams {
    /// OWASP's argon2id recommendation: m=19 MiB, t=2, p=1.
    fn default() -> Self {
        Self {
            m_cost: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

impl HashParams {
    fn params(&self) -> Params {
        Params::new(self.m_cost, self.t_cost, self.p_cost, None)
            .expect("argon2 parameters are validated at startup")
    }

    pub fn validate(&self) -> Result<(), String> {
        Params::new(self.m_cost, self.t_cost, self.p_cost, None)
            .map(|_| ())
            .map_err(|e| format!("invalid argon2 parameters: {e}"))
    }
}

/// The default policy's check (see `check_with`).
pub fn check_policy(password: &str) -> Result<(), DomainError> {
    check_with(password, &PasswordPolicy::default())
}

/// Checks a new password against a project's policy, before any hashing.
pub fn check_with(password: &str, policy: &PasswordPolicy) -> Result<(), DomainError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(DomainError::PasswordTooLong(MAX_PASSWORD_BYTES));
    }
    let min = (policy.min_length as usize).max(1);
    if password.chars().count() < min {
        return Err(DomainError::PasswordTooShort(min));
    }
    let rules = [
        (
            policy.require_uppercase,
            PolicyRule::Uppercase,
            password.chars().any(char::is_uppercase),
        ),
        (
            policy.require_lowercase,
            PolicyRule::Lowercase,
            password.chars().any(char::is_lowercase),
        ),
        (
            policy.require_numbers,
            PolicyRule::Number,
            password.chars().any(|c| c.is_numeric()),
        ),
        (
            policy.require_special_chars,
            PolicyRule::SpecialChar,
            password.chars().any(|c| !c.is_alphanumeric()),
        ),
    ];
    for (required, rule, present) in rules {
        if required && !present {
            return Err(DomainError::WeakPassword(rule));
        }
    }
    if is_common(password) {
        return Err(DomainError::PasswordTooCommon);
    }
    Ok(())
}

/// Whether the password is on the bundled list of about 100,000 common
/// passwords (the `passwords` crate's), as typed or in lower case, with
/// surrounding spaces ignored: `Password1` is as guessable as `password1`.
pub fn is_common(password: &str) -> bool {
    let trimmed = password.trim();
    passwords::analyzer::is_common_password(trimmed)
        || passwords::analyzer::is_common_password(trimmed.to_lowercase())
}

/// Hashes waiting for a thread, per hashing thread, by default: at about
/// 90 default-strength hashes a second per core, a full queue is drained in
/// well under the gateway's command timeout.
pub const DEFAULT_QUEUE_PER_THREAD: usize = 32;

tokio::task_local! {
    /// When the caller of the command being handled stops waiting for it.
    static DEADLINE: Instant;
}

/// When the caller of the command being handled stops waiting, if it said.
pub fn caller_deadline() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Runs `f` for a caller who waits until `deadline`: a hash it asks for
/// that has not started by then is dropped ([`HashError::Expired`]).
pub async fn with_deadline<F: Future>(deadline: Instant, f: F) -> F::Output {
    DEADLINE.scope(deadline, f).await
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: HashParams,
    pool: Arc<HashPool>,
    /// Verified against for unknown accounts, so they cost the same time.
    dummy_hash: Arc<str>,
    computed: Arc<AtomicUsize>,
}

impl PasswordHasher {
    /// `concurrency` bounds how many hashes run at once (one per core is
    /// the sensible maximum: more only adds latency); up to
    /// [`DEFAULT_QUEUE_PER_THREAD`] per thread wait, more are refused.
    pub fn new(params: HashParams, concurrency: usize) -> Result<Self, String> {
        let queue = concurrency.max(1) * DEFAULT_QUEUE_PER_THREAD;
        Self::with_queue(params, concurrency, queue)
    }

    /// As [`new`](Self::new), with at most `queue` hashes waiting.
    pub fn with_queue(
        params: HashParams,
        concurrency: usize,
        queue: usize,
    ) -> Result<Self, String> {
        params.validate()?;
        let dummy = hash_phc(
            params,
            b"authd dummy password for unknown accounts",
            &mut Vec::new(),
        )
        .map_err(|e| e.to_string())?;
        Ok(Self {
            params,
            pool: Arc::new(HashPool::new(concurrency.max(1), queue.max(1))),
            dummy_hash: dummy.into(),
            computed: Arc::default(),
        })
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let (params, computed) = (self.params, self.computed.clone());
        self.run(move |memory| {
            computed.fetch_add(1, Ordering::Relaxed);
            hash_phc(params, password.as_bytes(), memory).map_err(|_| HashError::Failed)
        })
        .await?
    }

    /// Verifies with the parameters stored in the hash itself, so hashes made
    /// under older parameters keep working. An account without a password
    /// (an empty or unreadable hash) costs a full verification too, and
    /// never matches.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, HashError> {
        let (dummy, computed) = (self.dummy_hash.clone(), self.computed.clone());
        self.run(move |memory| {
            let password = password.as_bytes();
            let matched = verify_phc(password, &phc, memory)
                .or_else(|| verify_phc(password, &dummy, memory).map(|_| false));
            if matched.is_some() {
                computed.fetch_add(1, Ordering::Relaxed);
            }
            matched.unwrap_or(false)
        })
        .await
    }

    /// Spends the time of one verification on nothing, for unknown accounts.
    pub async fn verify_dummy(&self, password: String) -> Result<(), HashError> {
        self.verify(password, String::new()).await.map(|_| ())
    }

    /// Hashes computed (made or verified) so far.
    pub fn hashes_computed(&self) -> usize {
        self.computed.load(Ordering::Relaxed)
    }

    /// Runs `f` on a hashing thread, with that thread's working memory;
    /// refused at once when the queue is full, dropped unstarted when the
    /// caller's deadline (see [`with_deadline`]) passes first.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let deadline = DEADLINE.try_with(|d| *d).ok();
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool.submit(Job {
            deadline,
            work: Box::new(move |memory| {
                let _ = tx.send(f(memory));
            }),
        })?;
        rx.await.map_err(|_| match deadline {
            Some(d) if Instant::now() >= d => HashError::Expired,
            _ => HashError::Failed,
        })
    }
}

/// The first `blocks` blocks of `memory`, grown to that if shorter.
fn blocks(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    &mut memory[..blocks]
}

/// A new argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) of
/// `password` under a random salt, in `memory`.
fn hash_phc(
    params: HashParams,
    password: &[u8],
    memory: &mut Vec<Block>,
) -> Result<String, argon2::password_hash::Error> {
    let params = params.params();
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_bytes)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon2.hash_password_into_with_memory(
        password,
        salt_raw,
        &mut out,
        blocks(memory, params.block_count()),
    )?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    }
    .to_string())
}

/// Whether `password` matches the PHC string, under the algorithm, version
/// and parameters recorded in it (so hashes made under older parameters
/// keep working), in `memory`. The comparison takes constant time. `None`
/// when the string is no argon2 hash (nothing was computed).
fn verify_phc(password: &[u8], phc: &str, memory: &mut Vec<Block>) -> Option<bool> {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return None;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return None;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return None,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return None;
    };
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let hashed = argon2.hash_password_into_with_memory(
        password,
        salt,
        out,
        blocks(memory, params.block_count()),
    );
    // `Output`'s equality is constant-time.
    Some(hashed.is_ok() && Output::new(out).is_ok_and(|out| out == expected))
}

/// A job gets its thread's argon2 working memory (19 MiB by default): kept
/// from one hash to the next while hashes are queued, since allocating,
/// zeroing and faulting it in anew for every hash cost about 8 % of a
/// verification.
struct Job {
    /// Past this, nobody waits for the result: the job is dropped unrun.
    deadline: Option<Instant>,
    work: Work,
}

type Work = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// A fixed set of threads that do nothing but hash. A fixed set (rather
/// than the runtime's blocking pool, which grows to hundreds of threads)
/// keeps argon2's 19 MiB working memory from piling up in one malloc arena
/// per thread, and queues excess work instead of oversubscribing the cores.
struct HashPool {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
    /// Jobs submitted and not yet taken by a thread.
    queued: Arc<AtomicUsize>,
    /// At most this many jobs wait.
    capacity: usize,
}

impl HashPool {
    fn new(threads: usize, capacity: usize) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let queued = Arc::new(AtomicUsize::new(0));
        for i in 0..threads {
            let (rx, queued) = (rx.clone(), queued.clone());
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        let job = rx.lock().unwrap().recv();
                        let Ok(job) = job else { return };
                        queued.fetch_sub(1, Ordering::AcqRel);
                        if job.deadline.is_some_and(|d| Instant::now() >= d) {
                            // Dropping the job tells its caller.
                            continue;
                        }
                        (job.work)(&mut memory);
                        // Under load the working memory goes to the next
                        // hash; when nothing waits, it goes back, so an idle
                        // service does not hold 19 MiB per thread.
                        if queued.load(Ordering::Acquire) == 0 {
                            memory = Vec::new();
                        }
                    }
                })
                .expect("a hashing thread can be spawned");
        }
        Self {
            jobs: std::sync::Mutex::new(tx),
            queued,
            capacity,
        }
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        let capacity = self.capacity;
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .map_err(|_| HashError::Busy)?;
        self.jobs.lock().unwrap().send(job).map_err(|_| {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            HashError::Failed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_bounds_length_before_hashing() {
        assert_eq!(check_policy("short"), Err(DomainError::PasswordTooShort(8)));
        assert_eq!(check_policy(""), Err(DomainError::PasswordTooShort(8)));
        assert_eq!(
            check_policy(&"a".repeat(1025)),
            Err(DomainError::PasswordTooLong(1024))
        );
        assert_eq!(check_policy(&"a".repeat(1024)), Ok(()));
        // characters, not bytes, count toward the minimum
        assert_eq!(check_policy("ääääääää"), Ok(()));
    }

    #[test]
    fn common_passwords_are_refused() {
        for common in [
            "password1",
            "Password1",
            "iloveyou",
            " 12345678 ",
            "qwertyuiop",
        ] {
            assert_eq!(
                check_policy(common),
                Err(DomainError::PasswordTooCommon),
                "{common:?}"
            );
        }
        assert_eq!(
            DomainError::PasswordTooCommon.code().as_str(),
            "PASSWORD_TOO_COMMON"
        );
        assert_eq!(check_policy("vermilion-otter-cathedral"), Ok(()));
    }

    #[test]
    fn project_rules_are_checked_and_named() {
        let policy = PasswordPolicy {
            min_length: 10,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_special_chars: true,
        };
        assert_eq!(
            check_with("Ab1!", &policy),
            Err(DomainError::PasswordTooShort(10))
        );
        assert_eq!(
            check_with("abcdefgh1!", &policy),
            Err(DomainError::WeakPassword(PolicyRule::Uppercase))
        );
        assert_eq!(
            check_with("ABCDEFGH1!", &policy),
            Err(DomainError::WeakPassword(PolicyRule::Lowercase))
        );
        assert_eq!(
            check_with("Abcdefghi!", &policy),
            Err(DomainError::WeakPassword(PolicyRule::Number))
        );
        assert_eq!(
            check_with("Abcdefghi1", &policy),
            Err(DomainError::WeakPassword(PolicyRule::SpecialChar))
        );
        assert_eq!(check_with("Abcdefgh1!", &policy), Ok(()));
        assert_eq!(
            DomainError::WeakPassword(PolicyRule::Number)
                .code()
                .as_str(),
            "PASSWORD_REQUIRES_NUMBER"
        );
        // 64 characters and more are allowed (NIST 800-63B)
        assert_eq!(
            check_with(&"x".repeat(64), &PasswordPolicy::default()),
            Ok(())
        );
    }

    #[tokio::test]
    async fn default_parameters_are_strong_and_round_trip() {
        let hasher = PasswordHasher::new(HashParams::default(), 2).unwrap();
        let phc = hasher.hash("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify("correct horse".into(), phc.clone())
                .await
                .unwrap()
        );
        assert!(!hasher.verify("wrong horse".into(), phc).await.unwrap());
        assert!(
            !hasher
                .verify("x".into(), "not a phc string".into())
                .await
                .unwrap()
        );
        hasher.verify_dummy("anything".into()).await.unwrap();
    }

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_api() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let params = HashParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        };
        // Ours verifies with the crate's verifier...
        // One working memory for every hash below, at whatever size each asks for.
        let mut memory = Vec::new();
        let ours = hash_phc(params, b"pa55word", &mut memory).unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{ours}");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"pa55word", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"pa55wort", &parsed)
                .is_err()
        );
        // ...and the crate's hashes (another algorithm, version, output
        // length and parameters included) verify with ours.
        for (algorithm, version, output) in [
            (Algorithm::Argon2id, Version::V0x13, 32),
            (Algorithm::Argon2i, Version::V0x10, 16),
            (Algorithm::Argon2d, Version::V0x13, 64),
        ] {
            let params = Params::new(128, 2, 2, Some(output)).unwrap();
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            let theirs = Argon2::new(algorithm, version, params)
                .hash_password(b"pa55word", &salt)
                .unwrap()
                .to_string();
            assert_eq!(verify_phc(b"pa55word", &theirs, &mut memory), Some(true));
            assert_eq!(verify_phc(b"pa55wort", &theirs, &mut memory), Some(false));
        }
        assert_eq!(verify_phc(b"pa55word", &ours, &mut memory), Some(true));
        assert_eq!(
            verify_phc(
                b"pa55word",
                "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$",
                &mut memory
            ),
            None
        );
        assert_eq!(
            verify_phc(
                b"pa55word",
                "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA",
                &mut memory
            ),
            None
        );
    }

    #[tokio::test]
    async fn working_memory_is_kept_while_hashes_wait_and_freed_when_idle() {
        let params = HashParams {
            m_cost: 256,
            t_cost: 1,
            p_cost: 1,
        };
        let hasher = PasswordHasher::new(params, 1).unwrap();
        let held = || hasher.run(|memory| memory.len());
        // A hash with another job queued behind it leaves its memory to it.
        // The only thread waits at a gate until both are queued (a job is
        // queued when its future is first polled: join! polls in order).
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let (_, hashed, during, ()) = tokio::join!(
            hasher.run(move |_| gate.recv().unwrap()),
            hasher.hash("pa55word".into()),
            held(),
            async { open.send(()).unwrap() },
        );
        hashed.unwrap();
        assert_eq!(during.unwrap(), 256);
        // Nothing queued after that: the memory goes back (a thread frees it
        // just after answering, so look again until it has).
        let mut idle = held().await.unwrap();
        for _ in 0..100 {
            if idle == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            idle = held().await.unwrap();
        }
        assert_eq!(idle, 0);
    }

    /// Runs `f` on `hasher`'s pool from a task of its own.
    fn spawn<T: Send + 'static>(
        hasher: &PasswordHasher,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<T, HashError>> {
        let hasher = hasher.clone();
        tokio::spawn(async move { hasher.run(f).await })
    }

    /// Occupies `hasher`'s only thread until the returned sender is used.
    fn hold(
        hasher: &PasswordHasher,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), HashError>>,
    ) {
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let held = spawn(hasher, move |_| {
            started_tx.send(()).unwrap();
            gate.recv().unwrap()
        });
        started.recv().unwrap();
        (open, held)
    }

    async fn until_queued(hasher: &PasswordHasher) {
        while hasher.pool.queued.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
    }

    // `hold` blocks its thread until the pool has started the job, which a
    // second worker must submit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_a_late_job_is_dropped_unrun() {
        let params = HashParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        };
        let hasher = PasswordHasher::with_queue(params, 1, 1).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let count = |ran: &Arc<AtomicUsize>| {
            let ran = ran.clone();
            move |_: &mut Vec<Block>| {
                ran.fetch_add(1, Ordering::SeqCst);
            }
        };
        // The only thread is held; one job may wait, the next is refused
        // without waiting.
        let (open, held) = hold(&hasher);
        let waiting = spawn(&hasher, count(&ran));
        until_queued(&hasher).await;
        assert!(matches!(
            hasher.run(count(&ran)).await,
            Err(HashError::Busy)
        ));
        assert!(matches!(
            hasher.verify("x".into(), String::new()).await,
            Err(HashError::Busy)
        ));
        open.send(()).unwrap();
        held.await.unwrap().unwrap();
        waiting.await.unwrap().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);

        // A job whose caller stopped waiting before a thread was free is
        // dropped, not run.
        let (open, held) = hold(&hasher);
        let deadline = Instant::now() + std::time::Duration::from_millis(20);
        let late = {
            let (hasher, job) = (hasher.clone(), count(&ran));
            tokio::spawn(with_deadline(
                deadline,
                async move { hasher.run(job).await },
            ))
        };
        until_queued(&hasher).await;
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        open.send(()).unwrap();
        held.await.unwrap().unwrap();
        assert!(matches!(late.await.unwrap(), Err(HashError::Expired)));
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        // In time, it runs.
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        with_deadline(deadline, hasher.run(count(&ran)))
            .await
            .unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_account_without_a_password_costs_a_full_verification() {
        let params = HashParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        };
        let hasher = PasswordHasher::new(params, 1).unwrap();
        let phc = hasher.hash("pa55word".into()).await.unwrap();
        let before = hasher.hashes_computed();
        assert!(hasher.verify("pa55word".into(), phc).await.unwrap());
        // No password at all, or an unreadable hash: the dummy is verified
        // instead, so the answer takes as long as for a real one.
        assert!(
            !hasher
                .verify("pa55word".into(), String::new())
                .await
                .unwrap()
        );
        assert!(!hasher.verify("".into(), "garbage".into()).await.unwrap());
        hasher.verify_dummy("x".into()).await.unwrap();
        assert_eq!(hasher.hashes_computed() - before, 4);
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(
            PasswordHasher::new(
                HashParams {
                    m_cost: 1,
                    t_cost: 0,
                    p_cost: 0
                },
                1
            )
            .is_err()
        );
    }
}
