//! The official OpenAI Python SDK against a gateway built from `specs/quickstart`: chat, streaming, usage chunk, errors.

use gatesmith_e2e::Gateway;
use gatesmith_e2e::python::assert_script_passes;

#[test]
fn openai_python_sdk_chats_and_streams_through_the_quickstart_gateway() {
    let gateway = Gateway::start("specs/quickstart");
    let base_url = gateway.base_url();
    let output = assert_script_passes("openai_chat.py", &[("GATESMITH_BASE_URL", &base_url)]);
    // The script prints one line per scenario; all four must have run.
    for scenario in [
        "non-streaming ok",
        "streaming ok",
        "streaming with usage ok",
        "unknown route ok",
    ] {
        assert!(
            output.stdout.contains(scenario),
            "scenario {scenario:?} did not run:\n{output}"
        );
    }
}
