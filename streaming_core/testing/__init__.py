"""Test helpers published with the package, as Streamlit publishes `streamlit.testing`: real
servers on free loopback ports for tests, benchmarks and scripts alike."""
