//! `lightrag-server`: runs the multi-workspace LightRAG server.
//!
//! ```text
//! cargo run --release -p lightrag-server            # offline defaults, port 9621
//! cargo run --release -p lightrag-server -- --help  # every setting
//! ```

use lightrag_server::commands;
use lightrag_server::config::{Command, Config};
use lightrag_server::server::{build, serve, shutdown_signal};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match Config::from_command_line(&args) {
        Ok(Command::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(command) => command,
        Err(err) => {
            eprintln!("lightrag-server: {err}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Serve(config) => {
            init_logging(&config.log_level);
            run(*config).await
        }
        Command::Export {
            config,
            workspace,
            to,
        } => {
            init_logging("WARNING");
            one_off(*config, |state| async move {
                commands::export(&state, &workspace, to).await
            })
            .await
        }
        Command::Import {
            config,
            workspace,
            source,
        } => {
            init_logging("WARNING");
            one_off(*config, |state| async move {
                commands::import(&state, &workspace, source).await
            })
            .await
        }
        Command::Help(_) => unreachable!(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    for warning in &config.ignored {
        tracing::warn!("{warning}");
    }
    let address = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    let state = build(config)?;
    tracing::info!(
        "lightrag-server listening on {}://{} (default workspace: {})",
        if state.config.tls.is_some() {
            "https"
        } else {
            "http"
        },
        listener.local_addr()?,
        state.config.default_workspace
    );
    if state.config.auto_scan {
        tokio::spawn(lightrag_server::routes::scan_at_startup(state.clone()));
    }
    serve(state, listener, shutdown_signal()).await
}

/// Runs a command on the server's state without listening, then finalizes every
/// workspace it opened.
async fn one_off<F, Fut>(config: Config, command: F) -> anyhow::Result<()>
where
    F: FnOnce(lightrag_server::routes::AppState) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let state = build(config)?;
    let result = command(state.clone()).await;
    commands::finish(&state).await;
    result
}

/// `LOG_LEVEL` (LightRAG's names) unless `RUST_LOG` says otherwise.
fn init_logging(level: &str) {
    let level = match level {
        "DEBUG" => "debug",
        "WARNING" | "WARN" => "warn",
        "ERROR" | "CRITICAL" => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},wasmtime=warn,cranelift=warn"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}
