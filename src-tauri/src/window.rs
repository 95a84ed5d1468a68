//! The main window and what its web content may do. The page shows
//! decrypted personal data, so the window is closed on every side a
//! browser normally leaves open:
//! - no download ever starts (WebKit's default would save an image or a
//!   blob to the temporary directory, unlogged);
//! - no context menu ("Save Image As", "Copy Image", "Inspect Element");
//! - navigation only to the app's own pages, no new windows;
//! - the web process, which decodes untrusted PDFs and images, runs in
//!   WebKit's bubblewrap sandbox (no home directory, no network, its own
//!   namespaces), switched on before the first web context exists;
//! - in every build that ships, no inspector or automation: the
//!   variables that would open them are cleared before GTK starts
//!   ([`clear_inspection_variables`]).

use tauri::webview::NewWindowResponse;
use tauri::{Url, WebviewWindowBuilder};

/// Whether this build may be driven by WebDriver (the end-to-end run):
/// only a debug build made with the `webdriver` feature. Release builds
/// can never be.
pub const DRIVABLE: bool = cfg!(all(debug_assertions, feature = "webdriver"));

/// Variables that make WebKit open a remote inspector (any local user
/// could then run script in the page, with its IPC), let WebDriver drive
/// it, load code into it, or weaken its sandbox; and GTK's interactive
/// debugger. Cleared before GTK starts, in every build but a drivable one.
const INSPECTION_PREFIXES: &[&str] = &["WEBKIT_", "JSC_", "TAURI_WEBVIEW_AUTOMATION", "GTK_DEBUG"];

/// Rendering workarounds a person may need on some graphics drivers;
/// they open nothing.
const RENDERING_VARIABLES: &[&str] = &[
    "WEBKIT_DISABLE_COMPOSITING_MODE",
    "WEBKIT_DISABLE_DMABUF_RENDERER",
];

/// Clear every inspector and automation variable, before any thread or
/// GTK exists (so nothing can read them first).
pub fn clear_inspection_variables() {
    if DRIVABLE {
        return;
    }
    let doomed: Vec<std::ffi::OsString> = std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            let k = k.to_string_lossy();
            INSPECTION_PREFIXES.iter().any(|p| k.starts_with(p))
                && !RENDERING_VARIABLES.contains(&k.as_ref())
        })
        .collect();
    for k in doomed {
        std::env::remove_var(k);
    }
}

/// The app's own pages: `tauri://localhost` on Linux, the
/// `tauri.localhost` host elsewhere.
pub fn is_app_url(url: &Url) -> bool {
    match url.scheme() {
        "tauri" => url.host_str() == Some("localhost"),
        "http" | "https" => url.host_str() == Some("tauri.localhost"),
        _ => false,
    }
}

/// Open the main window (configured in tauri.conf.json with
/// `create: false`), closed as above. The sandbox is switched on before
/// ([`sandbox_every_web_context`]).
pub fn open_main(app: &tauri::App) -> tauri::Result<()> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == "main")
        .cloned()
        .ok_or_else(|| tauri::Error::WindowNotFound)?;
    // Tauri puts the policy on HTML pages only; a worker (pdf.js) takes
    // the policy of its own response, so every asset carries it.
    let policy = app
        .config()
        .app
        .security
        .csp
        .as_ref()
        .map(|c| c.to_string())
        .and_then(|c| tauri::http::HeaderValue::from_str(&c).ok());
    let window = WebviewWindowBuilder::from_config(app.handle(), &config)?
        .devtools(DRIVABLE)
        .on_web_resource_request(move |_, response| {
            if let Some(policy) = &policy {
                response
                    .headers_mut()
                    .entry("Content-Security-Policy")
                    .or_insert_with(|| policy.clone());
            }
        })
        .on_download(|_, _| false)
        .on_navigation(is_app_url)
        .on_new_window(|_, _| NewWindowResponse::Deny)
        .build()?;
    refuse_context_menu(&window)
}

/// No menu at all on the page: its items would save, copy or inspect.
#[cfg(target_os = "linux")]
fn refuse_context_menu(window: &tauri::WebviewWindow) -> tauri::Result<()> {
    window.with_webview(|platform| {
        use webkit2gtk::WebViewExt;
        platform.inner().connect_context_menu(|_, _, _, _| true);
    })
}

#[cfg(not(target_os = "linux"))]
fn refuse_context_menu(_window: &tauri::WebviewWindow) -> tauri::Result<()> {
    Ok(())
}

/// Switch WebKit's web-process sandbox on for every web context, before
/// the first one exists. WebKit allows it only before a context has
/// started a process, and Tauri's runtime creates the context and its
/// view (which starts one) in a single step with no hook between
/// (wry issue 935), so the switch goes into the class itself: each new
/// WebKitWebContext turns its sandbox on as it is constructed. Call on
/// the main thread before any window.
#[cfg(target_os = "linux")]
pub fn sandbox_every_web_context() {
    use webkit2gtk::glib::gobject_ffi;
    use webkit2gtk::glib::translate::IntoGlib;
    use webkit2gtk::glib::StaticType;
    if !sandbox_available() {
        return;
    }
    static ORIGINAL: std::sync::OnceLock<unsafe extern "C" fn(*mut gobject_ffi::GObject)> =
        std::sync::OnceLock::new();
    unsafe extern "C" fn constructed(object: *mut gobject_ffi::GObject) {
        if let Some(original) = ORIGINAL.get() {
            original(object);
        }
        webkit2gtk::ffi::webkit_web_context_set_sandbox_enabled(object.cast(), 1);
    }
    if ORIGINAL.get().is_some() {
        return;
    }
    // SAFETY: the class is referenced (and so initialised) and never
    // released; its `constructed` slot is replaced once, on the main
    // thread, before any instance exists; the replacement calls the
    // original first, as GObject chains constructors.
    unsafe {
        let class = gobject_ffi::g_type_class_ref(webkit2gtk::WebContext::static_type().into_glib())
            as *mut gobject_ffi::GObjectClass;
        if let Some(original) = (*class).constructed {
            let _ = ORIGINAL.set(original);
            (*class).constructed = Some(constructed);
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn sandbox_every_web_context() {}

/// WebKit's sandbox needs bubblewrap (Debian `bubblewrap`, a dependency
/// of WebKitGTK) and fails to start a web process without it; inside
/// Flatpak WebKit uses the portal's sandbox instead.
#[cfg(target_os = "linux")]
fn sandbox_available() -> bool {
    std::path::Path::new("/usr/bin/bwrap").exists()
        && !std::path::Path::new("/.flatpak-info").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_apps_own_pages_are_navigable() {
        for ok in ["tauri://localhost/index.html", "http://tauri.localhost/"] {
            assert!(is_app_url(&ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "https://example.com/",
            "tauri://evil/",
            "http://tauri.localhost.example.com/",
            "file:///etc/passwd",
            "blob:tauri://localhost/1234",
            "data:text/html,hi",
        ] {
            assert!(!is_app_url(&bad.parse().unwrap()), "{bad}");
        }
    }
}
