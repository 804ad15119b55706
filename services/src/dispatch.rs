//! The top of the command registry: checks who sends a command and runs
//! its use case. The `match` is generated from the command table
//! (`commands::command_table`), so a command without a use case does not
//! compile. Nothing below (the use cases, the commands' types) names this
//! module.

use crate::{
    commands::{Command, CommandEnvelope, CommandOk, Reply, command_table, encode},
    error::{CommandError, DomainError},
    usecases::{Services, UseCase},
};

/// Declares `dispatch` from the command table.
macro_rules! dispatch_fn {
    ($( $name:literal => $payload:ident -> $outcome:ty, $who:ident; )*) => {
        /// Runs the command's use case and encodes its outcome.
        async fn dispatch(
            services: &Services,
            env: &CommandEnvelope,
            command: Command,
        ) -> Result<(u64, Vec<u8>), CommandError> {
            match command {
                $( Command::$payload(c) => {
                    let done = c.run(services, env).await?;
                    Ok((done.seq, encode(&done.outcome)))
                } )*
            }
        }
    };
}
command_table!(dispatch_fn);

impl Services {
    /// Checks who sends the command against its declaration, then runs it.
    pub async fn handle(&self, env: CommandEnvelope) -> Reply {
        if !authd_events::subject::is_valid_token(&env.tenant) {
            return Err(DomainError::InvalidInput("tenant").into());
        }
        if env.command_id.is_empty() || env.command_id.len() > 128 {
            return Err(DomainError::InvalidInput("commandId").into());
        }
        env.command.who().check(&env.actor)?;
        let (seq, outcome) = dispatch(self, &env, env.command.clone()).await?;
        Ok(CommandOk { seq, outcome })
    }
}
