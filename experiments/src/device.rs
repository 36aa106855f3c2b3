//! Choosing the compute device by name, among the backends compiled in.
//!
//! `Device::default()` would prefer a GPU backend whenever one is compiled
//! in (and wgpu falls back to a ~100x slower software Vulkan), so every
//! binary names its device explicitly with `--device`.

use burn::prelude::*;

/// The `--device` flag shared by every binary.
#[derive(Debug, Clone, clap::Args)]
pub struct DeviceArgs {
    /// Compute device: flex, ndarray, wgpu, vulkan, cuda or cuda:N (only
    /// those compiled in; see the cargo features).
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Keep subnormal floats (below 1.2e-38) as IEEE does instead of
    /// flushing them to zero on the CPU: the bits of earlier builds, but
    /// x86 CPUs compute with them many times slower (a net trained to a
    /// tiny loss makes them; see `rbm::set_flush_subnormals`).
    #[arg(long)]
    pub keep_subnormals: bool,
}

impl DeviceArgs {
    /// The device, with this process's CPU threads set to flush subnormals
    /// unless `--keep-subnormals` was given. On Flex, an OpenBLAS kernel
    /// narrower than the CPU is said on stderr (a silent slowdown else).
    pub fn select(&self) -> Result<Device, DeviceError> {
        let device = select_device(&self.device)?;
        rbm::set_flush_subnormals(!self.keep_subnormals);
        if rbm::host_ops::on_flex(&device)
            && let Some(warning) = rbm::host_ops::matmul_engine_warning()
        {
            eprintln!("warning: {warning}");
        }
        Ok(device)
    }
}

/// The `BURN_DEVICE` value that makes Burn's own default device the CPU
/// backend named by a `--device` value; `None` for a GPU backend, whose
/// runs may touch the default GPU as Burn picks it.
///
/// Burn takes `Device::default()` where it is given no device: loading an
/// optimizer's state when a fine-tuning run resumes (`burn_optim`'s
/// `ModuleOptimizer::load_record`) puts it there and moves it to the
/// parameters' device at the next step. With wgpu compiled in, that
/// default is a GPU, or software Vulkan without one: a Flex run that
/// resumed started a wgpu device, lavapipe's threads and two device
/// threads that woke every 150 us for the rest of the run (about 8% of a
/// 2-core machine's samples), and would fail where no Vulkan driver is.
pub fn burn_default_device(device_flag: &str) -> Option<&'static str> {
    match device_flag {
        "flex" => Some("flex"),
        "ndarray" => Some("ndarray"),
        _ => None,
    }
}

/// The `BURN_DEVICE` value for a parsed command line: that of its
/// innermost subcommand's `--device` ([`burn_default_device`]); `None`
/// for a command without the flag or with a GPU backend.
pub fn burn_default_device_for(matches: &clap::ArgMatches) -> Option<&'static str> {
    let mut innermost = matches;
    while let Some((_, sub)) = innermost.subcommand() {
        innermost = sub;
    }
    let flag = innermost.try_get_one::<String>("device").ok()??;
    burn_default_device(flag)
}

/// Makes Burn's default device the CPU backend that `--device` names
/// ([`burn_default_device_for`]) by setting `BURN_DEVICE`, which Burn
/// reads at every `Device::default()`. `--device` is the user's explicit
/// choice, so it overrides a `BURN_DEVICE` set outside.
///
/// # Safety
///
/// Sets an environment variable: call it before any other thread exists
/// (as `std::env::set_var` requires).
pub unsafe fn pin_burn_default_device(matches: &clap::ArgMatches) {
    if let Some(burn_device) = burn_default_device_for(matches) {
        // SAFETY: no other thread exists yet (this function's contract).
        unsafe { std::env::set_var("BURN_DEVICE", burn_device) };
    }
}

/// The backend names this build can run on, in the order they are listed.
pub fn available_backends() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "flex") {
        names.push("flex");
    }
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    if cfg!(feature = "vulkan") {
        names.push("vulkan");
    }
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    names
}

/// A device name that this build cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error(
        "backend `{requested}` is not compiled in (available: {available}); \
         rebuild with `--features {requested}`"
    )]
    NotCompiled {
        requested: String,
        available: String,
    },
    #[error(
        "`{requested}`: a device index is a non-negative integer, and only cuda takes one (cuda:N)"
    )]
    BadIndex { requested: String },
    #[error("unknown backend `{requested}`; known backends: flex, ndarray, wgpu, vulkan, cuda")]
    Unknown { requested: String },
    #[error(
        "backend `{requested}` is compiled in but has no usable device here: {reason} \
         (for wgpu without a GPU, install a Vulkan driver such as Mesa's lavapipe: \
         apt-get install mesa-vulkan-drivers)"
    )]
    Unavailable { requested: String, reason: String },
}

/// Runs one tiny operation on a GPU device, so that a backend without a
/// usable adapter is a [`DeviceError::Unavailable`] here instead of a panic
/// inside the backend at first use. The backend's panic message is
/// silenced while probing.
#[allow(dead_code)]
fn probe(name: &str, device: Device) -> Result<Device, DeviceError> {
    // Once per device name and process, under a lock: the panic hook is
    // process-wide, and tests select devices from several threads at once.
    static PROBED: std::sync::Mutex<Vec<(String, Result<(), DeviceError>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut probed = PROBED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, result)) = probed.iter().find(|(n, _)| n == name) {
        return result.clone().map(|()| device);
    }
    let result = probe_once(name, device.clone());
    probed.push((
        name.to_string(),
        result.as_ref().map(|_| ()).map_err(Clone::clone),
    ));
    result
}

#[allow(dead_code)]
fn probe_once(name: &str, device: Device) -> Result<Device, DeviceError> {
    let hook = std::panic::take_hook();
    let reason = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let seen = reason.clone();
    std::panic::set_hook(Box::new(move |info| {
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.is_none() {
            *seen = Some(
                info.payload_as_str()
                    .unwrap_or("the backend panicked")
                    .to_string(),
            );
        }
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Tensor::<1>::from_floats([1.0], &device)
            .sum()
            .try_into_scalar::<f32>()
            .map_err(|e| format!("{e:?}"))
    }));
    std::panic::set_hook(hook);
    let first_panic = reason.lock().unwrap_or_else(|e| e.into_inner()).take();
    match result {
        Ok(Ok(_)) => Ok(device),
        Ok(Err(message)) => Err(DeviceError::Unavailable {
            requested: name.to_string(),
            reason: message,
        }),
        Err(_) => Err(DeviceError::Unavailable {
            requested: name.to_string(),
            reason: first_panic.unwrap_or_else(|| "the backend panicked".into()),
        }),
    }
}

/// The Vulkan driver manifests (ICD files) the Vulkan loader would find on
/// Linux: those named by `VK_DRIVER_FILES` or `VK_ICD_FILENAMES` when set,
/// else the `*.json` files of the loader's standard `vulkan/icd.d`
/// directories. Without one, wgpu falls back to OpenGL, which on a machine
/// without a GPU is Mesa's llvmpipe: it works, but the test suite then takes
/// many minutes (measured: over 5 minutes for one file that takes 2 s on
/// lavapipe); the tests check this first and stop with a clear message.
pub fn vulkan_driver_manifests() -> Vec<std::path::PathBuf> {
    use std::path::PathBuf;
    let listed = |value: std::ffi::OsString| -> Vec<PathBuf> {
        std::env::split_paths(&value)
            .flat_map(|path| {
                if path.is_dir() {
                    json_files(&path)
                } else if path.is_file() {
                    vec![path]
                } else {
                    Vec::new()
                }
            })
            .collect()
    };
    for variable in ["VK_DRIVER_FILES", "VK_ICD_FILENAMES"] {
        if let Some(value) = std::env::var_os(variable).filter(|v| !v.is_empty()) {
            return listed(value);
        }
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".local/share")));
    dirs.extend(config);
    dirs.push("/etc/xdg".into());
    dirs.push("/etc".into());
    dirs.extend(data);
    let data_dirs = std::env::var_os("XDG_DATA_DIRS")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "/usr/local/share:/usr/share".into());
    dirs.extend(std::env::split_paths(&data_dirs));
    dirs.iter()
        .flat_map(|dir| json_files(&dir.join("vulkan/icd.d")))
        .collect()
}

fn json_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

/// The device for `name` (`flex`, `ndarray`, `wgpu`, `vulkan`, `cuda`, or
/// `cuda:N` for the N-th GPU). Never falls back to another backend.
pub fn select_device(name: &str) -> Result<Device, DeviceError> {
    let (backend, index) = match name.split_once(':') {
        Some((b, i)) => {
            let index = i.parse::<usize>().map_err(|_| DeviceError::BadIndex {
                requested: name.to_string(),
            })?;
            if b != "cuda" {
                return Err(DeviceError::BadIndex {
                    requested: name.to_string(),
                });
            }
            (b, Some(index))
        }
        None => (name, None),
    };
    let not_compiled = || DeviceError::NotCompiled {
        requested: backend.to_string(),
        available: available_backends().join(", "),
    };
    match backend {
        "flex" => {
            #[cfg(feature = "flex")]
            return Ok(Device::flex());
            #[allow(unreachable_code)]
            Err(not_compiled())
        }
        "ndarray" => {
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            return Ok(Device::ndarray());
            #[allow(unreachable_code)]
            Err(not_compiled())
        }
        "wgpu" => {
            #[cfg(feature = "wgpu")]
            return probe(name, Device::wgpu(burn::tensor::DeviceKind::DefaultDevice));
            #[allow(unreachable_code)]
            Err(not_compiled())
        }
        "vulkan" => {
            #[cfg(feature = "vulkan")]
            return probe(
                name,
                Device::vulkan(burn::tensor::DeviceKind::DefaultDevice),
            );
            #[allow(unreachable_code)]
            Err(not_compiled())
        }
        "cuda" => {
            #[cfg(feature = "cuda")]
            return probe(name, Device::cuda(index.unwrap_or(0)));
            #[allow(unreachable_code)]
            {
                let _ = index;
                Err(not_compiled())
            }
        }
        _ => Err(DeviceError::Unknown {
            requested: name.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_backend_is_rejected() {
        assert!(matches!(
            select_device("tpu"),
            Err(DeviceError::Unknown { .. })
        ));
    }

    #[test]
    fn malformed_indices_are_rejected() {
        for name in ["cuda:x", "cuda:-1", "flex:0", "wgpu:1"] {
            assert!(
                matches!(select_device(name), Err(DeviceError::BadIndex { .. })),
                "{name}"
            );
        }
    }

    #[test]
    fn backends_not_compiled_are_rejected_not_replaced() {
        for name in ["flex", "ndarray", "wgpu", "vulkan", "cuda"] {
            let compiled = available_backends().contains(&name);
            let result = select_device(name);
            if !compiled {
                assert!(
                    matches!(result, Err(DeviceError::NotCompiled { .. })),
                    "{name}"
                );
            }
        }
    }

    /// The parsed command line of `deepbelief ARGS`.
    fn parsed(args: &[&str]) -> clap::ArgMatches {
        use clap::Subcommand;
        crate::commands::Command::augment_subcommands(clap::Command::new("deepbelief"))
            .try_get_matches_from(std::iter::once("deepbelief").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn burns_default_device_follows_the_innermost_subcommands_cpu_device() {
        let cases: [(&[&str], Option<&str>); 6] = [
            (&["classify"], Some("flex")),
            (&["classify", "--device", "ndarray"], Some("ndarray")),
            (&["bench", "finetune", "--device", "flex"], Some("flex")),
            (&["classify", "--device", "wgpu"], None),
            (&["bench", "finetune", "--device", "cuda:1"], None),
            (&["seeds", "runs/a"], None),
        ];
        for (args, expected) in cases {
            assert_eq!(burn_default_device_for(&parsed(args)), expected, "{args:?}");
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_is_selected_by_name() {
        let device = select_device("flex").unwrap();
        let x = Tensor::<1>::from_floats([1.0, 2.0], &device);
        assert_eq!(x.sum().into_scalar::<f32>(), 3.0);
    }
}
