//! The probe: every color answers.

use super::*;

pub(crate) struct FakeProbe;

impl Probe for FakeProbe {
    async fn get(&self, _: Port, _: &HealthPath) -> Result<u16, String> {
        Ok(200)
    }
    async fn fetch(&self, _: Port, _: &HealthPath, _: Duration) -> Result<(u16, Vec<u8>), String> {
        Ok((200, b"app v2\n".to_vec()))
    }
}
