use super::*;

fn config(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match Config::from_parts(&args, env, HashMap::new())? {
        Command::Serve(config) => Ok(*config),
        _ => panic!("not a plain serve command"),
    }
}

#[test]
fn defaults_match_lightrag() {
    let c = config(&[], &[]).unwrap();
    assert_eq!(c.port, 9621);
    assert_eq!(c.max_workspaces, 50);
    assert_eq!(c.default_workspace, "default");
    assert_eq!(
        (
            c.engine.chunk_size,
            c.engine.chunk_overlap,
            c.engine.top_k,
            c.engine.chunk_top_k
        ),
        (1200, 100, 40, 20)
    );
    assert_eq!(c.llm.binding, Binding::Offline);
    assert_eq!(c.embedding_dim, 384);
}

#[test]
fn flags_beat_environment_and_workspace_falls_back() {
    let c = config(
        &["--port", "9000"],
        &[("PORT", "8000"), ("WORKSPACE", "team_a")],
    )
    .unwrap();
    assert_eq!(c.port, 9000);
    assert_eq!(c.default_workspace, "team_a");
    let c = config(
        &[],
        &[("LIGHTRAG_DEFAULT_WORKSPACE", "x"), ("WORKSPACE", "y")],
    )
    .unwrap();
    assert_eq!(c.default_workspace, "x");
}

#[test]
fn bad_values_name_the_setting() {
    let err = config(&[], &[("PORT", "nine")]).unwrap_err().0;
    assert!(err.contains("PORT") && err.contains("environment"), "{err}");
    let err = config(&["--max-async=0"], &[]).unwrap_err().0;
    assert!(
        err.contains("MAX_ASYNC") && err.contains("command line"),
        "{err}"
    );
    let err = config(&[], &[("WORKSPACE", "../etc")]).unwrap_err().0;
    assert!(err.contains("WORKSPACE"), "{err}");
    let err = config(&[], &[("LIGHTRAG_ALLOW_DEFAULT_WORKSPACE", "maybe")])
        .unwrap_err()
        .0;
    assert!(err.contains("LIGHTRAG_ALLOW_DEFAULT_WORKSPACE"), "{err}");
    let err = config(&[], &[("CHUNK_OVERLAP_SIZE", "1200")])
        .unwrap_err()
        .0;
    assert!(err.contains("CHUNK_OVERLAP_SIZE"), "{err}");
    assert!(config(&["--no-such-thing", "1"], &[]).is_err());
}

/// `env.example` documents every setting, with its default.
#[test]
fn env_example_lists_every_setting() {
    let example = include_str!("../../../env.example");
    for setting in SETTINGS {
        let line = format!("# {}={}", setting.name, setting.default);
        assert!(
            example.lines().any(|l| l == line),
            "env.example lacks `{line}`"
        );
    }
}

#[test]
fn openai_defaults_and_embedding_inherits_the_llm_host() {
    let c = config(
        &[],
        &[
            ("LLM_BINDING", "openai"),
            ("EMBEDDING_BINDING", "openai"),
            ("LLM_BINDING_HOST", "http://127.0.0.1:1/v1/"),
            ("LLM_BINDING_API_KEY", "k"),
        ],
    )
    .unwrap();
    assert_eq!(c.embedding.host, "http://127.0.0.1:1/v1");
    assert_eq!(c.embedding.api_key, "k");
    assert_eq!(c.embedding_dim, 1536);
    assert_eq!(c.llm.model, "gpt-4o-mini");
}

#[test]
fn role_limits_and_lightrag_alias_names() {
    let c = config(&[], &[]).unwrap();
    assert_eq!(c.max_async, 4);
    assert_eq!(c.embedding_timeout, Duration::from_secs(30));
    assert_eq!(c.role_limits, [RoleLimit::default(); 3]);
    let c = config(
        &["--query-llm-timeout", "2.5"],
        &[
            ("MAX_ASYNC", "4"),
            ("MAX_ASYNC_LLM", "9"),
            ("EXTRACT_MAX_ASYNC_LLM", "2"),
            ("EMBEDDING_TIMEOUT", "12"),
        ],
    )
    .unwrap();
    assert_eq!(c.max_async, 9);
    assert_eq!(c.embedding_timeout, Duration::from_secs(12));
    assert_eq!(c.role_limits[0].max_async, Some(2));
    assert_eq!(c.role_limits[1], RoleLimit::default());
    assert_eq!(c.role_limits[2].timeout, Some(Duration::from_millis(2500)));
    for (name, value) in [
        ("KEYWORD_MAX_ASYNC_LLM", "0"),
        ("QUERY_LLM_TIMEOUT", "inf"),
        ("EMBEDDING_TIMEOUT", "1e300"),
    ] {
        let err = config(&[], &[(name, value)]).unwrap_err().0;
        assert!(err.contains(name), "{err}");
    }
}

/// LightRAG's switches work as switches (`--ssl` alone), and its `--key`.
#[test]
fn switches_and_lightrags_flag_names() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, "x").unwrap();
    std::fs::write(&key, "x").unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let c = config(
        &[
            "--ssl",
            "--ssl-certfile",
            cert,
            "--ssl-keyfile",
            key,
            "--key",
            "k1",
        ],
        &[],
    )
    .unwrap();
    assert!(c.tls.is_some());
    let c = config(&["--ssl=false", "--auto-scan-at-startup"], &[]).unwrap();
    assert!(c.tls.is_none() && c.auto_scan);
    let err = config(&["--ssl"], &[]).unwrap_err().0;
    assert!(err.contains("SSL_CERTFILE"), "{err}");
    let err = config(&["--sll"], &[]).unwrap_err().0;
    assert!(err.contains("--sll"), "{err}");
    let c = config(&["--verbose"], &[]).unwrap();
    assert_eq!(c.log_level, "DEBUG");
    let c = config(&["--workers", "4"], &[]).unwrap();
    assert!(
        c.ignored.iter().any(|w| w.starts_with("WORKERS=4")),
        "{:?}",
        c.ignored
    );
}

#[test]
fn lightrag_bindings_we_lack_stop_start_up_saying_what_to_use_instead() {
    for (binding, instead) in [
        ("gemini", "generativelanguage.googleapis.com/v1beta/openai"),
        ("bedrock", "OpenAI-compatible gateway"),
        ("aws_bedrock", "OpenAI-compatible gateway"),
        ("openai-ollama", "EMBEDDING_BINDING=ollama"),
    ] {
        let err = config(&[], &[("LLM_BINDING", binding)]).unwrap_err().0;
        assert!(
            err.contains("LLM_BINDING") && err.contains(binding) && err.contains(instead),
            "{err}"
        );
    }
    let err = config(&[], &[("EMBEDDING_BINDING", "jina")]).unwrap_err().0;
    assert!(
        err.contains("EMBEDDING_BINDING") && err.contains("Jina"),
        "{err}"
    );
    // A plain typo gets the list, and no invented hint.
    let err = config(&[], &[("LLM_BINDING", "openia")]).unwrap_err().0;
    assert!(
        err.ends_with("expected openai, ollama, azure_openai or offline"),
        "{err}"
    );
}

#[test]
fn the_command_line_is_well_formed() {
    // clap's own checks (unique flags across subcommands and global settings), which
    // it otherwise makes only when a command is first parsed in a debug build.
    super::sources::command().debug_assert();
}

#[test]
fn commands_name_their_workspace_on_the_command_line() {
    let parse = |args: &[&str], env: &[(&str, &str)]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_parts(&args, env, HashMap::new())
    };
    match parse(
        &["export", "--workspace", "alpha", "--to", "/tmp/a.tar.gz"],
        &[],
    ) {
        Ok(Command::Export { workspace, to, .. }) => {
            assert_eq!(workspace, "alpha");
            assert_eq!(to, PathBuf::from("/tmp/a.tar.gz"));
        }
        _ => panic!("not an export"),
    }
    // The environment's default workspace is not a command's target.
    let err = parse(&["export", "--to", "a.tar.gz"], &[("WORKSPACE", "alpha")])
        .err()
        .unwrap()
        .0;
    assert!(err.contains("--workspace"), "{err}");
    match parse(
        &[
            "import",
            "--workspace",
            "b",
            "--from",
            "/old/rag",
            "--source-embedding-model",
            "bge-m3",
            "--port",
            "1",
        ],
        &[],
    ) {
        Ok(Command::Import {
            config,
            source:
                ImportSource::LightRag {
                    dir,
                    embedding_model,
                },
            ..
        }) => {
            assert_eq!(dir, PathBuf::from("/old/rag"));
            assert_eq!(embedding_model.as_deref(), Some("bge-m3"));
            assert_eq!(config.port, 1);
        }
        _ => panic!("not a LightRAG import"),
    }
    assert!(parse(&["import", "--workspace", "b"], &[]).is_err());
    assert!(parse(&["import", "--workspace", "../x", "--archive", "a"], &[]).is_err());
}
