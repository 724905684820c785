//! The engine's seam on the desktop: a thread that owns the [`Engine`] and blocks on its
//! async work with `pollster`; a driver panic becomes an error reply.

use std::sync::mpsc::channel;

use gvt_core::Result;
use gvt_core::device::{self, ComputeDevice, DeviceChoice, panic_message};

use super::{Engine, Reply, Request};

pub(super) async fn select_device(choice: DeviceChoice) -> Result<ComputeDevice> {
    device::select(choice)
}

/// Natively the engine has its own thread: nothing to yield to.
pub(super) async fn yield_to_page() {}

/// Natively: a thread that owns the engine.
pub(super) struct RequestSink(std::sync::mpsc::Sender<Request>);

impl RequestSink {
    pub(super) fn start(mut engine: Engine, emit: impl Fn(Reply) + Send + 'static) -> Self {
        let (tx, rx) = channel::<Request>();
        std::thread::Builder::new()
            .name("gvt-engine".into())
            .spawn(move || {
                for request in rx {
                    let failure = failure_reply(&request);
                    // A driver panic (lost device, a buffer over the adapter's limit) must not
                    // take the engine down: report it and keep serving.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        pollster::block_on(engine.handle(request, &emit))
                    }));
                    if let Err(panic) = outcome {
                        emit(failure(panic_message(&*panic)));
                    }
                }
            })
            .expect("the OS refused to start the inference thread");
        Self(tx)
    }

    pub(super) fn send(&self, request: Request) {
        // The engine thread only ends when the UI drops its sender.
        let _ = self.0.send(request);
    }
}

fn failure_reply(request: &Request) -> impl FnOnce(String) -> Reply + use<> {
    let to_reply = match request {
        Request::Ask { id, .. } => Failed::Ask(*id),
        Request::Probe { id, .. } => Failed::Probe(*id),
        Request::LoadSecond { .. } => Failed::LoadSecond,
        _ => Failed::Load,
    };
    move |why: String| {
        let error = format!(
            "the compute device failed ({why}); switch the device in the model panel and try again"
        );
        match to_reply {
            Failed::Ask(id) => Reply::AskFailed { id, error },
            Failed::Probe(id) => Reply::ProbeFinished {
                id,
                error: Some(error),
            },
            Failed::Load => Reply::LoadFailed(error),
            Failed::LoadSecond => Reply::SecondFailed(error),
        }
    }
}

/// Which reply a failed request gets.
enum Failed {
    Ask(u64),
    Probe(u64),
    Load,
    LoadSecond,
}
