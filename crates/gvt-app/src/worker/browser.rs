//! The engine's seam in the browser: one task on the page's event loop drains the request
//! queue, awaiting every GPU read.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use gvt_core::Result;
use gvt_core::device::{self, ComputeDevice, DeviceChoice};

use super::{Engine, Reply, Request};

pub(super) async fn select_device(choice: DeviceChoice) -> Result<ComputeDevice> {
    device::select_async(choice).await
}

/// Lets the page draw and handle input between two questions of a long run: on the CPU
/// path a question never awaits anything, so without this a probe would hold the page.
pub(super) async fn yield_to_page() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// In the browser: a queue drained by one task on the page's event loop.
pub(super) struct RequestSink {
    queue: Rc<RefCell<VecDeque<Request>>>,
    engine: Rc<RefCell<Option<Engine>>>,
    emit: Rc<dyn Fn(Reply)>,
}

impl RequestSink {
    pub(super) fn start(engine: Engine, emit: impl Fn(Reply) + 'static) -> Self {
        Self {
            queue: Default::default(),
            engine: Rc::new(RefCell::new(Some(engine))),
            emit: Rc::new(emit),
        }
    }

    pub(super) fn send(&self, request: Request) {
        self.queue.borrow_mut().push_back(request);
        // The engine is taken out while a task runs; that task drains the queue itself.
        let Some(mut engine) = self.engine.borrow_mut().take() else {
            return;
        };
        let (queue, slot, emit) = (self.queue.clone(), self.engine.clone(), self.emit.clone());
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let next = queue.borrow_mut().pop_front();
                let Some(request) = next else { break };
                engine.handle(request, &*emit).await;
            }
            *slot.borrow_mut() = Some(engine);
        });
    }
}
