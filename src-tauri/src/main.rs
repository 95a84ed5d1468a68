//! `kinko-app`: the desktop app. Everything is in the library.

fn main() {
    kinko_app::run();
}
