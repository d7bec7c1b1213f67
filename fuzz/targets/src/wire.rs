//! A client's JSON-RPC message: Warden's direct reading of the frequent
//! requests ([`warden::mcp::wire::decode`]) against rmcp's reading.

use rmcp::model::ClientJsonRpcMessage;
use warden::mcp::wire;

/// Input: one message's bytes, any bytes.
///
/// Checks: `wire::decode` gives what rmcp gives, the same message (compared
/// as JSON, which carries every member and `_meta`) or the same error.
pub fn wire(data: &[u8]) {
    let ours = wire::decode(data);
    let rmcp = serde_json::from_slice::<ClientJsonRpcMessage>(data);
    match (ours, rmcp) {
        (Ok(ours), Ok(rmcp)) => assert_eq!(
            serde_json::to_value(ours).expect("a message serializes"),
            serde_json::to_value(rmcp).expect("a message serializes"),
            "read differently: {}",
            String::from_utf8_lossy(data)
        ),
        (Err(ours), Err(rmcp)) => assert_eq!(ours.to_string(), rmcp.to_string()),
        (ours, rmcp) => panic!(
            "one reading failed: ours {:?}, rmcp's {:?}, for {}",
            ours.err(),
            rmcp.err(),
            String::from_utf8_lossy(data)
        ),
    }
}
