//! The wasm runtime: one `Engine`, one compiled component, one `InstancePre`, shared
//! by every workspace; a fresh `Store` per workspace instance.
//!
//! Compilation happens once per component build: the compiled code is cached on
//! disk under a name derived from the component's hash and the engine's
//! compatibility hash, and only files this server wrote there are ever loaded.
//! Instances come from the pooling allocator (memory slots reserved up front, reused
//! copy-on-write), so opening a workspace costs tens of microseconds.

use crate::bindings::{Workspace as EngineBindings, WorkspacePre};
use anyhow::Context as _;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    StoreLimits, StoreLimitsBuilder, UpdateDeadline,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// How often the epoch advances; the unit of the per-call CPU budget.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Bytes of guest stderr kept per instance (panic messages).
const STDERR_CAPTURE: usize = 16 * 1024;

/// Per-store host state: the instance's WASI context and limits.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: Limiter,
    /// Epoch ticks the current call may still run.
    budget: u64,
    /// Epoch ticks each call of this instance may run (its CPU limit).
    call_ticks: u64,
    /// The guest's stderr, so a panic's message can be logged.
    pub stderr: MemoryOutputPipe,
}

/// The store's memory limits, remembering whether a request to grow was refused (so
/// the trap that usually follows can be reported as a memory limit hit).
struct Limiter {
    inner: StoreLimits,
    denied: bool,
    /// Bytes of linear memory the instance holds (what the memory limit caps); shared
    /// so it can be read while the instance is busy in a call.
    in_use: Arc<AtomicUsize>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        self.denied |= !allowed;
        if allowed {
            // Also called for a memory's first allocation, with `current` 0.
            self.in_use
                .fetch_add(desired.saturating_sub(current), Ordering::Relaxed);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl HostState {
    /// Whether the instance was refused memory beyond its limit.
    pub fn memory_denied(&self) -> bool {
        self.limits.denied
    }

    /// The instance's linear memory in bytes, readable from anywhere.
    pub fn memory_in_use(&self) -> Arc<AtomicUsize> {
        self.limits.in_use.clone()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Memory a freed instance slot keeps resident, and how many freed slots keep it:
/// see [`Runtime::new`].
const WARM_SLOT_BYTES: usize = 256 << 20;
const WARM_SLOTS: u32 = 4;

/// The shared runtime.
pub struct Runtime {
    engine: Engine,
    pre: WorkspacePre<HostState>,
    ticker_stop: Arc<AtomicBool>,
    /// How the component was obtained, for the log.
    pub origin: String,
}

impl Runtime {
    /// Builds the engine for up to `slots` live instances and loads `component`.
    pub fn new(component: &[u8], cache_dir: &Path, slots: usize) -> anyhow::Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Component-model async (WASIp3) is not used; without it calls are 3-5x cheaper.
        config.concurrency_support(false);
        let mut pooling = PoolingAllocationConfig::default();
        let slots = slots as u32;
        pooling
            .total_component_instances(slots)
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 8)
            .total_stacks(slots)
            .max_memories_per_component(2)
            .max_tables_per_component(8)
            // Every slot may grow to what wasm32 can address; each store's limiter
            // enforces its workspace's own memory limit.
            .max_memory_size(1 << 32)
            // A freed slot keeps up to 256 MiB of its memory's pages, zeroed with
            // memset instead of returned to the kernel, and a few such slots stay
            // warm. Opening a workspace writes its whole heap at once, and faulting
            // fresh pages in was about a fifth of opening a large one (145 MB: ~40 of
            // ~225 ms here); the price is at most four slots' worth of resident
            // memory kept while unused.
            .linear_memory_keep_resident(WARM_SLOT_BYTES)
            .max_unused_warm_slots(WARM_SLOTS);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        let (component, origin) = load_component(&engine, component, cache_dir)?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        let pre = WorkspacePre::new(
            linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)?,
        )
        .map_err(anyhow::Error::from)?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone());
        Ok(Runtime {
            engine,
            pre,
            ticker_stop,
            origin,
        })
    }

    /// Creates an instance whose only filesystem access is `data_dir`, seen as `/data`,
    /// and `input_dir` (its uploads), seen as `/input`, within `memory` bytes and `cpu`
    /// per call.
    pub async fn instantiate(
        &self,
        data_dir: &Path,
        input_dir: &Path,
        import_dir: Option<&Path>,
        memory: usize,
        cpu: Duration,
    ) -> anyhow::Result<(Store<HostState>, EngineBindings)> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let mut wasi = WasiCtxBuilder::new();
        // No environment, arguments, stdin, clocks beyond the defaults or network:
        // the guest sees its own directory and nothing else.
        wasi.stderr(stderr.clone())
            .allow_blocking_current_thread(true)
            .preopened_dir(data_dir, "/data", FsPerms::ReadWrite)
            .map_err(anyhow::Error::from)?
            .preopened_dir(input_dir, "/input", FsPerms::ReadWrite)
            .map_err(anyhow::Error::from)?;
        // A LightRAG directory being imported: the engine may read it, never change it.
        if let Some(import_dir) = import_dir {
            wasi.preopened_dir(import_dir, "/import", FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)?;
        }
        let state = HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: Limiter {
                denied: false,
                in_use: Arc::new(AtomicUsize::new(0)),
                inner: StoreLimitsBuilder::new()
                    .memory_size(memory)
                    .instances(16)
                    .memories(4)
                    .tables(16)
                    .build(),
            },
            budget: 0,
            call_ticks: (cpu.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64,
            stderr,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        // The guest yields to tokio every tick and is stopped when its budget is spent,
        // so a looping guest costs one request, not a worker thread.
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if state.budget == 0 {
                return Err(wasmtime::Error::new(CpuBudgetExhausted));
            }
            state.budget -= 1;
            Ok(UpdateDeadline::Yield(1))
        });
        self.arm(&mut store);
        let bindings = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)?;
        Ok((store, bindings))
    }

    /// Gives the next guest call its full CPU budget.
    pub fn arm(&self, store: &mut Store<HostState>) {
        let state = store.data_mut();
        state.budget = state.call_ticks;
        store.set_epoch_deadline(1);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// The error that stops a guest call which used up its CPU budget; the instance
/// recognises it by type (`wasmtime::Error::is`).
#[derive(Debug)]
pub struct CpuBudgetExhausted;

impl std::fmt::Display for CpuBudgetExhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the engine call exceeded its CPU budget")
    }
}

impl std::error::Error for CpuBudgetExhausted {}

fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("cannot start the epoch thread");
}

/// Loads the compiled component from the cache, or compiles and caches it.
fn load_component(
    engine: &Engine,
    wasm: &[u8],
    cache_dir: &Path,
) -> anyhow::Result<(Component, String)> {
    let path = cache_path(engine, wasm, cache_dir);
    if path.exists() {
        // SAFETY: the file is at a path only this server writes (the cache directory is
        // outside every workspace's preopened directory), and its name binds it to this
        // exact component and engine configuration. Deserialising runs no guest code.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(component) => return Ok((component, format!("cached {}", path.display()))),
            Err(err) => {
                tracing::warn!("ignoring unusable compiled cache {}: {err}", path.display())
            }
        }
    }
    let started = std::time::Instant::now();
    let compiled = engine
        .precompile_component(wasm)
        .map_err(anyhow::Error::from)
        .context("compiling the engine component")?;
    std::fs::create_dir_all(cache_dir)
        .with_context(|| format!("creating {}", cache_dir.display()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &compiled)?;
    std::fs::rename(&tmp, &path)?;
    // SAFETY: the bytes were produced just now by `precompile_component` of this engine.
    #[allow(unsafe_code)]
    let component =
        unsafe { Component::deserialize(engine, &compiled) }.map_err(anyhow::Error::from)?;
    Ok((
        component,
        format!(
            "compiled in {:?}, cached at {}",
            started.elapsed(),
            path.display()
        ),
    ))
}

/// `engine-<component hash>-<engine compatibility hash>.cwasm`.
fn cache_path(engine: &Engine, wasm: &[u8], cache_dir: &Path) -> PathBuf {
    let component_hash = hex::encode(&Sha256::digest(wasm)[..12]);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    "wasmtime-48.0.8".hash(&mut hasher);
    cache_dir.join(format!(
        "engine-{component_hash}-{:016x}.cwasm",
        hasher.finish()
    ))
}
