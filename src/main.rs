fn main() {
    std::process::exit(bgctl::run());
}
