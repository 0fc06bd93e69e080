//! The behaviour suite (Flask's async tests and the exact lifecycle), in-process through
//! the test client.

erlen_tests::behaviour_suite!(erlen_tests::in_process);
