//! The codec every generated client and server uses: prost's, except that a request that does
//! not decode (bytes that are no message of its type: a truncated varint, a wrong wire type,
//! invalid UTF-8 in a string, nesting too deep) is the caller's mistake, INVALID_ARGUMENT with
//! reason `MALFORMED_REQUEST` and the field it broke in, not tonic's INTERNAL.
//! (`build.rs` names it with `codec_path`.)

use prost::Message;
use std::marker::PhantomData;
use tonic::Status;
use tonic::codec::{DecodeBuf, Decoder};

/// `ErrorInfo.domain` of a request that did not decode: no service's own rule, the contract's.
pub const DOMAIN: &str = "partnerhub";

/// Encodes `E` and decodes `D` with prost (see the module).
#[derive(Debug)]
pub struct Codec<E, D>(PhantomData<(E, D)>);

impl<E, D> Default for Codec<E, D> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

impl<E, D> tonic::codec::Codec for Codec<E, D>
where
    E: Message + Send + 'static,
    D: Message + Default + Send + 'static,
{
    type Encode = E;
    type Decode = D;
    type Encoder = tonic_prost::ProstEncoder<E>;
    type Decoder = MessageDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        MessageDecoder(PhantomData)
    }
}

/// Decodes messages with prost; what doesn't decode is [`malformed`].
#[derive(Debug)]
pub struct MessageDecoder<D>(PhantomData<D>);

impl<D: Message + Default> Decoder for MessageDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        D::decode(buf).map(Some).map_err(|e| malformed(&e))
    }
}

/// The answer to a message that did not decode: INVALID_ARGUMENT, `MALFORMED_REQUEST`, naming
/// the field where decoding broke when prost says (`partner.address`, as the request nests it).
pub fn malformed(error: &prost::DecodeError) -> Status {
    use tonic_types::StatusExt;
    let (field, cause) = parse(&error.to_string());
    let mut details = tonic_types::ErrorDetails::with_error_info(
        "MALFORMED_REQUEST",
        DOMAIN,
        std::collections::HashMap::new(),
    );
    let message = match field {
        Some(field) => {
            let message = format!("the request is not a valid message: {field}: {cause}");
            details.add_bad_request_violation(field, "is not a valid encoding of its type");
            message
        }
        None => format!("the request is not a valid message: {cause}"),
    };
    Status::with_error_details(tonic::Code::InvalidArgument, message, details)
}

/// prost's "failed to decode Protobuf message: Inner.field: Outer.field: cause" (innermost
/// first) as the field path, outermost first (`field.field`), and the cause.
fn parse(text: &str) -> (Option<String>, String) {
    let rest = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(text);
    let plain =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let mut path = Vec::new();
    let mut parts = rest.split(": ").peekable();
    while let Some(part) = parts.peek() {
        match part.rsplit_once('.') {
            Some((message, field)) if message.split('.').all(plain) && plain(field) => {
                path.push(field);
                parts.next();
            }
            _ => break,
        }
    }
    path.reverse();
    let cause = parts.collect::<Vec<_>>().join(": ");
    ((!path.is_empty()).then(|| path.join(".")), cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_path_is_read_outermost_first() {
        let prefix = "failed to decode Protobuf message: ";
        assert_eq!(
            parse(&format!(
                "{prefix}PostalAddress.locality: Tenant.address: CreatePartnerRequest.partner: invalid string value: data is not UTF-8 encoded"
            )),
            (
                Some("partner.address.locality".to_string()),
                "invalid string value: data is not UTF-8 encoded".to_string()
            )
        );
        assert_eq!(
            parse(&format!(
                "{prefix}SignInRequest.user_name: buffer underflow"
            )),
            (
                Some("user_name".to_string()),
                "buffer underflow".to_string()
            )
        );
        assert_eq!(
            parse(&format!("{prefix}invalid tag value: 0")),
            (None, "invalid tag value: 0".to_string())
        );
    }

    #[test]
    fn a_message_that_does_not_decode_is_invalid_argument_naming_its_field() {
        use tonic_types::StatusExt;
        let bytes = [0x0a, 0x03, 0xff, 0xfe, b'a'];
        let error = crate::gateway::SignInRequest::decode(&bytes[..]).expect_err("not UTF-8");
        let status = malformed(&error);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("MALFORMED_REQUEST")
        );
        let fields: Vec<&str> = details
            .bad_request()
            .map(|b| {
                b.field_violations
                    .iter()
                    .map(|v| v.field.as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(fields, ["user_name"]);
    }
}
