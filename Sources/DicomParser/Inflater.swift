/// Raw deflate (RFC 1951) for the Deflated Explicit VR Little Endian syntax. The parser imports no
/// C library; DicomDeflate provides zlib's, and callers pass it in the options.
public protocol DeflateCodec: Sendable {
    /// Inflates `data`, failing when the result would exceed `limit` bytes (a deflate bomb).
    func inflate(_ data: [UInt8], limit: Int) throws -> [UInt8]
    func deflate(_ data: [UInt8]) throws -> [UInt8]
}
