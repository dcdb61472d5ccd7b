//! One zram device: its settings, its actions and its statistics, each a sysfs attribute under
//! `<sysfs>/block/zramN/`.

use std::path::{Path, PathBuf};

use super::algorithms::{
    AlgorithmList, RecompAlgorithm, parse_algorithm_list, parse_recomp_algorithms,
};
use super::attr;
use super::error::{KernelError, Result};
use super::stats::{self, BdStat, DebugStat, IoStat, MmStat};

/// A zram device, e.g. `zram0`, found through [`super::Zram`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZramDevice {
    id: u32,
    name: String,
    dir: PathBuf,
    node: PathBuf,
}

/// Parameters for the `algorithm_params` attribute (Linux 6.12+).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlgorithmParams {
    /// The algorithm they apply to; `None` addresses a recompression `priority` instead.
    pub algorithm: Option<String>,
    /// The recompression priority they apply to (0: the primary algorithm).
    pub priority: Option<u32>,
    /// Compression level.
    pub level: Option<i32>,
    /// A pre-trained dictionary file.
    pub dict: Option<PathBuf>,
}

/// Which pages `recompress` considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSelection {
    /// Pages marked idle.
    Idle,
    /// Incompressible (huge) pages.
    Huge,
    /// Pages both idle and huge.
    HugeIdle,
}

impl PageSelection {
    fn keyword(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Huge => "huge",
            Self::HugeIdle => "huge_idle",
        }
    }
}

/// A `recompress` request (CONFIG_ZRAM_MULTI_COMP).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recompress {
    /// Which pages; `None`: every page.
    pub pages: Option<PageSelection>,
    /// Only pages whose compressed size is at least this many bytes.
    pub threshold: Option<u32>,
    /// Recompress with this algorithm (it must be configured in `recomp_algorithm`).
    pub algorithm: Option<String>,
    /// Stop after this many pages.
    pub max_pages: Option<u64>,
}

/// What `idle` marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleMark {
    /// Every stored page.
    All,
    /// Pages not accessed for this many seconds (kernels that track access time).
    OlderThan(u64),
}

/// What `writeback` writes to the backing device (CONFIG_ZRAM_WRITEBACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writeback {
    /// Idle pages.
    Idle,
    /// Huge pages.
    Huge,
    /// Pages both idle and huge.
    HugeIdle,
    /// Pages that recompression could not shrink.
    Incompressible,
    /// One page by its index.
    Page(u64),
}

/// Everything `configure` sets on a fresh device, in the order the kernel needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceConfig {
    /// Uncompressed capacity in bytes.
    pub disksize: u64,
    /// Compression algorithm (kernel default when `None`).
    pub algorithm: Option<String>,
    /// Parameters for the algorithm.
    pub params: Option<AlgorithmParams>,
    /// Compression streams (older kernels only).
    pub streams: Option<u32>,
    /// Memory limit in bytes.
    pub mem_limit: Option<u64>,
}

impl ZramDevice {
    /// The device `zram<id>` whose sysfs directory is `dir` and whose block node is `node`.
    pub(crate) fn new(id: u32, dir: PathBuf, node: PathBuf) -> Self {
        Self {
            id,
            name: format!("zram{id}"),
            dir,
            node,
        }
    }

    /// Its number.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Its name, `zram<id>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its sysfs directory.
    pub fn sysfs_dir(&self) -> &Path {
        &self.dir
    }

    /// Its block device node, e.g. `/dev/zram0`.
    pub fn node(&self) -> &Path {
        &self.node
    }

    /// Whether the running kernel has attribute `setting` for this device.
    pub fn has(&self, setting: &str) -> bool {
        self.dir.join(setting).exists()
    }

    fn read(&self, setting: &'static str) -> Result<String> {
        attr::read(&self.dir, &self.name, setting)
    }

    fn write(&self, setting: &'static str, value: &str) -> Result<()> {
        attr::write(&self.dir, &self.name, setting, value)
    }

    fn read_u64(&self, setting: &'static str) -> Result<u64> {
        let content = self.read(setting)?;
        content.trim().parse().map_err(|_| KernelError::Parse {
            path: self.dir.join(setting),
            content: content.trim().to_owned(),
            reason: "not an unsigned number".to_owned(),
        })
    }

    /// Whether the device is initialised (its disksize is set).
    pub fn is_initialized(&self) -> Result<bool> {
        Ok(self.read_u64("initstate")? != 0)
    }

    /// Uncompressed capacity in bytes (0 when not initialised).
    pub fn disksize(&self) -> Result<u64> {
        self.read_u64("disksize")
    }

    /// Sets the capacity, which initialises the device; the algorithm and streams must be set first.
    pub fn set_disksize(&self, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Err(KernelError::Rejected {
                device: self.name.clone(),
                setting: "disksize",
                value: "0".into(),
                hint: "a device is reset, not sized to 0; give a size above 0",
            });
        }
        self.write("disksize", &bytes.to_string())
    }

    /// The algorithms the kernel offers and the selected one.
    pub fn comp_algorithm(&self) -> Result<AlgorithmList> {
        let content = self.read("comp_algorithm")?;
        parse_algorithm_list(&self.dir.join("comp_algorithm"), &content)
    }

    /// Checks `name` against the kernel's list, so that an algorithm it lacks is named as such.
    fn ensure_offered(&self, name: &str) -> Result<()> {
        let list = self.comp_algorithm()?;
        if list.offers(name) {
            Ok(())
        } else {
            Err(KernelError::UnknownAlgorithm {
                device: self.name.clone(),
                algorithm: name.to_owned(),
                available: list.joined(),
            })
        }
    }

    /// Selects the compression algorithm (before disksize).
    pub fn set_comp_algorithm(&self, name: &str) -> Result<()> {
        self.ensure_offered(name)?;
        self.write("comp_algorithm", name)
    }

    /// Sets per-algorithm parameters (level, dictionary).
    pub fn set_algorithm_params(&self, params: &AlgorithmParams) -> Result<()> {
        let mut words = Vec::new();
        if let Some(algo) = &params.algorithm {
            self.ensure_offered(algo)?;
            words.push(format!("algo={algo}"));
        }
        if let Some(p) = params.priority {
            words.push(format!("priority={p}"));
        }
        if let Some(level) = params.level {
            words.push(format!("level={level}"));
        }
        if let Some(dict) = &params.dict {
            words.push(format!("dict={}", dict.display()));
        }
        if words.is_empty() {
            return Err(KernelError::Rejected {
                device: self.name.clone(),
                setting: "algorithm_params",
                value: String::new(),
                hint: "name an algorithm or a priority, and a level or a dictionary",
            });
        }
        if !self.has("algorithm_params") {
            return Err(KernelError::Unsupported {
                setting: "algorithm_params",
                needs: super::error::requirement("algorithm_params"),
            });
        }
        self.write("algorithm_params", &words.join(" "))
    }

    /// The number of compression streams (kernels that still have the setting).
    pub fn max_comp_streams(&self) -> Result<u64> {
        self.read_u64("max_comp_streams")
    }

    /// Sets the number of compression streams (kernels that still have the setting).
    pub fn set_max_comp_streams(&self, streams: u32) -> Result<()> {
        self.write("max_comp_streams", &streams.to_string())
    }

    /// Limits the memory the device may use, in bytes (0: no limit).
    pub fn set_mem_limit(&self, bytes: u64) -> Result<()> {
        self.write("mem_limit", &bytes.to_string())
    }

    /// The recompression algorithms configured per priority.
    pub fn recomp_algorithms(&self) -> Result<Vec<RecompAlgorithm>> {
        let content = self.read("recomp_algorithm")?;
        parse_recomp_algorithms(&self.dir.join("recomp_algorithm"), &content)
    }

    /// Adds a recompression algorithm at `priority` (1 and up).
    pub fn set_recomp_algorithm(&self, name: &str, priority: u32) -> Result<()> {
        if !self.has("recomp_algorithm") {
            return Err(KernelError::Unsupported {
                setting: "recomp_algorithm",
                needs: super::error::requirement("recomp_algorithm"),
            });
        }
        self.ensure_offered(name)?;
        self.write(
            "recomp_algorithm",
            &format!("algo={name} priority={priority}"),
        )
    }

    /// Recompresses stored pages with a recompression algorithm.
    pub fn recompress(&self, request: &Recompress) -> Result<()> {
        let mut words = Vec::new();
        if let Some(sel) = request.pages {
            words.push(format!("type={}", sel.keyword()));
        }
        if let Some(t) = request.threshold {
            words.push(format!("threshold={t}"));
        }
        if let Some(a) = &request.algorithm {
            words.push(format!("algo={a}"));
        }
        if let Some(m) = request.max_pages {
            words.push(format!("max_pages={m}"));
        }
        self.write("recompress", &words.join(" "))
    }

    /// Marks stored pages idle, for `recompress` and `writeback` to select.
    pub fn mark_idle(&self, mark: IdleMark) -> Result<()> {
        match mark {
            IdleMark::All => self.write("idle", "all"),
            IdleMark::OlderThan(secs) => self.write("idle", &secs.to_string()),
        }
    }

    /// Writes pages to the backing device.
    pub fn writeback(&self, what: Writeback) -> Result<()> {
        let value = match what {
            Writeback::Idle => "idle".to_owned(),
            Writeback::Huge => "huge".to_owned(),
            Writeback::HugeIdle => "huge_idle".to_owned(),
            Writeback::Incompressible => "incompressible".to_owned(),
            Writeback::Page(index) => format!("page_index={index}"),
        };
        self.write("writeback", &value)
    }

    /// The backing device, or `None` when none is set.
    pub fn backing_dev(&self) -> Result<Option<PathBuf>> {
        let content = self.read("backing_dev")?;
        let path = content.trim();
        Ok((!path.is_empty() && path != "none").then(|| PathBuf::from(path)))
    }

    /// Sets the backing device (before disksize).
    pub fn set_backing_dev(&self, device: &Path) -> Result<()> {
        self.write("backing_dev", &device.to_string_lossy())
    }

    /// Frees everything stored and returns the device to its uninitialised state.
    pub fn reset(&self) -> Result<()> {
        self.write("reset", "1")
    }

    /// Compacts the allocator's memory.
    pub fn compact(&self) -> Result<()> {
        self.write("compact", "1")
    }

    /// Memory statistics.
    pub fn mm_stat(&self) -> Result<MmStat> {
        stats::parse_mm_stat(&self.dir.join("mm_stat"), &self.read("mm_stat")?)
    }

    /// Failure counters.
    pub fn io_stat(&self) -> Result<IoStat> {
        stats::parse_io_stat(&self.dir.join("io_stat"), &self.read("io_stat")?)
    }

    /// Backing-device statistics.
    pub fn bd_stat(&self) -> Result<BdStat> {
        stats::parse_bd_stat(&self.dir.join("bd_stat"), &self.read("bd_stat")?)
    }

    /// Debugging counters.
    pub fn debug_stat(&self) -> Result<DebugStat> {
        stats::parse_debug_stat(&self.dir.join("debug_stat"), &self.read("debug_stat")?)
    }

    /// Configures an uninitialised device: algorithm, parameters and streams, then disksize (which
    /// initialises it), then the memory limit. A memory limit refused once disksize has initialised
    /// the device resets it again, so that a failed `configure` never leaves a device initialised
    /// without the limit it was asked for (and busy to a retry).
    pub fn configure(&self, config: &DeviceConfig) -> Result<()> {
        if self.is_initialized()? {
            return Err(KernelError::Busy {
                device: self.name.clone(),
                setting: "disksize",
            });
        }
        if let Some(algo) = &config.algorithm {
            self.set_comp_algorithm(algo)?;
        }
        if let Some(params) = &config.params {
            self.set_algorithm_params(params)?;
        }
        if let Some(streams) = config.streams {
            self.set_max_comp_streams(streams)?;
        }
        self.set_disksize(config.disksize)?;
        if let Some(limit) = config.mem_limit
            && let Err(e) = self.set_mem_limit(limit)
        {
            // The error that matters is the limit's; a failed reset leaves what the kernel has.
            let _ = self.reset();
            return Err(e);
        }
        Ok(())
    }
}
