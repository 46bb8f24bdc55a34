package feed

// Schema Registry wire format: producers that use a Confluent-compatible schema registry with
// the JSON Schema serializer prefix each record with a magic byte 0 and the 4-byte big-endian id
// of the schema it was written with. The id says nothing intake needs (intake validates the
// fields itself, docs/feeds.md), so the prefix is dropped and the JSON after it decoded as any
// other record. A JSON text never starts with a zero byte, so the two cannot be confused.
const (
	wireMagic     = 0x00
	wireHeaderLen = 5 // magic byte + schema id
)

// stripWireFraming returns the JSON payload of a record in the Schema Registry wire format, and
// any other record unchanged. A record of a zero byte and nothing else to read is left as it is,
// to be refused as malformed_json.
func stripWireFraming(raw []byte) []byte {
	if len(raw) > wireHeaderLen && raw[0] == wireMagic {
		return raw[wireHeaderLen:]
	}
	return raw
}
