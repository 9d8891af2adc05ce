import DicomCore

/// The one error type of DicomCodecs: what went wrong while describing, decoding or encoding a
/// frame. Messages name the transfer syntax or library involved so that a command can print
/// them as they are.
public enum CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No decoder exists for this transfer syntax, or this variant of it (e.g. a JPEG process or
    /// sampling the decoder does not implement). The string says what exactly.
    case unsupported(transferSyntax: String, reason: String)
    /// The pixel description is inconsistent or outside what DICOM allows (e.g. Bits Stored
    /// greater than Bits Allocated, a frame size that overflows).
    case invalidDescription(String)
    /// The frame's bytes are not a valid encoding of an image with the given description
    /// (truncated, corrupt codestream, dimensions that disagree with the description).
    case corrupt(String)
    /// A C library reported an error (its message included).
    case libraryError(library: String, message: String)
    /// Encoding an image (PNG, JPEG, PNM) failed or was asked for something it cannot write.
    case encodingFailed(String)

    public var description: String {
        switch self {
        case .unsupported(let uid, let reason):
            let name = UIDRegistry.name(for: uid)
            return "unsupported transfer syntax \(uid)\(name.map { " (\($0))" } ?? ""): \(reason)"
        case .invalidDescription(let message):
            return "invalid pixel description: \(message)"
        case .corrupt(let message):
            return "corrupt frame: \(message)"
        case .libraryError(let library, let message):
            return "\(library): \(message)"
        case .encodingFailed(let message):
            return "encoding failed: \(message)"
        }
    }
}
