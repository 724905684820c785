//! `gvt`: the command-line front end of GVT Lens; in the browser, the app on the page's
//! canvas (built by Trunk from `index.html`).

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {
    gvt_app::web::start();
}
