//! Helpers shared by the workspace's integration tests: fixtures (the repository's
//! `tests/fixtures/`), devices, tolerances.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use gvt_core::device::{self, DeviceChoice};
use gvt_core::gguf::GgufFile;

/// The repository's root (this crate lives in `crates/gvt-testkit`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file under the repository's `tests/fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(rel)
}

pub fn open_fixture(rel: &str) -> GgufFile {
    let path = fixture(rel);
    GgufFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The wgpu device, or `None` when the machine has no Vulkan/Metal/DX12 adapter AND the
/// developer said so with `GVT_SKIP_WGPU=1`. Without that variable a missing adapter fails
/// the test: CI installs lavapipe, so wgpu must work there.
pub fn wgpu() -> Option<Device> {
    wgpu_compute().map(|d| d.device)
}

/// [`wgpu`] with the device's description.
pub fn wgpu_compute() -> Option<device::ComputeDevice> {
    match device::select(DeviceChoice::Gpu) {
        Ok(d) => Some(d),
        Err(e) if std::env::var("GVT_SKIP_WGPU").as_deref() == Ok("1") => {
            eprintln!("SKIPPING the wgpu half of this test (GVT_SKIP_WGPU=1): {e}");
            None
        }
        Err(e) => panic!(
            "{e}\nInstall lavapipe (apt-get install mesa-vulkan-drivers libvulkan1), or set \
             GVT_SKIP_WGPU=1 to run the CPU half only."
        ),
    }
}

/// Loses the GPU as a driver reset would (wgpu's `Device::destroy`) and waits until wgpu has
/// reported it: every later GPU call in this process fails. Run such a test
/// [`in_own_process`].
pub fn lose_gpu(device: &device::ComputeDevice) {
    let gpu = device.wgpu_device().expect("lose_gpu needs a GPU device");
    gpu.destroy();
    // wgpu reports the loss once the queue is empty, at the next poll.
    let _ = gpu.poll(burn::tensor::wgpu::wgpu::PollType::wait_indefinitely());
}

/// Runs the test named `test` (its path in the test binary) again in a child process of this
/// test binary, for tests that break state the whole process shares, such as losing the
/// GPU. Returns `true` in the child, which does the test's work; in the parent it returns
/// `false` once the child has passed, and fails the test with the child's output otherwise.
pub fn in_own_process(test: &str) -> bool {
    const CHILD: &str = "GVT_TESTKIT_CHILD";
    if std::env::var(CHILD).as_deref() == Ok(test) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .expect("the test binary starts again");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "`{test}` failed in its own process:\n{log}"
    );
    // A wrong name would run nothing, and pass.
    assert!(
        log.contains("test result: ok. 1 passed"),
        "`{test}` did not run in its own process:\n{log}"
    );
    false
}

/// Path of the SmolLM2-135M-Instruct GGUF; fails with instructions when it is missing.
pub fn smollm2() -> PathBuf {
    let path = std::env::var_os("GVT_SMOLLM2")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            home.join(".cache/gvt-lens/weights/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    assert!(
        path.exists(),
        "{} is missing: run tools/fetch-weights.sh (CI does) or set GVT_SMOLLM2",
        path.display()
    );
    path
}

pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// A tensor from a fixture file, as f32 on `device`.
pub fn load<const D: usize>(file: &GgufFile, name: &str, device: &Device) -> Tensor<D> {
    let view = file.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let shape: [usize; D] = view
        .shape()
        .try_into()
        .unwrap_or_else(|s| panic!("{name} has shape {s:?}, expected rank {D}"));
    Tensor::from_data(TensorData::new(view.to_f32().unwrap(), shape), device)
}

pub fn values(file: &GgufFile, name: &str) -> Vec<f32> {
    file.tensor(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .to_f32()
        .unwrap()
}

/// Asserts `got` and `want` have the same length and differ by at most `tol` everywhere.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} values, expected {}",
        got.len(),
        want.len()
    );
    let (mut worst, mut at) = (0.0f32, 0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        if d > worst || d.is_nan() {
            worst = d;
            at = i;
        }
    }
    assert!(
        worst <= tol,
        "{what}: max abs error {worst:e} at {at} (got {}, want {}), tolerance {tol:e}",
        got[at],
        want[at]
    );
    eprintln!("{what}: max abs error {worst:.2e}");
}
