//! The same behaviour suite over real sockets, on each backend.

mod async_backend {
    erlen_tests::behaviour_suite!(erlen_tests::over_http(erlen::Backend::Async));
}

mod threaded_backend {
    erlen_tests::behaviour_suite!(erlen_tests::over_http(erlen::Backend::Threaded { workers: 8 }));
}
