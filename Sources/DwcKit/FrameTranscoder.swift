import DicomCodecs
import DicomCore
import DicomParser

/// `retrieve-frames --media-type`: frames delivered in a media type other than their transfer
/// syntax's (PS3.18 8.7.3, 8.7.4), through the decoders and the render pipeline.
///
/// - `application/octet-stream`: decoded native samples, little endian, colour-by-pixel, in
///   the Bits Allocated container (1-bit images bit-packed); colour as the decoder delivers it
///   (RGB for JPEG YCbCr and JPEG 2000 ICT/RCT, YBR_FULL for native YBR_FULL_422). Content type
///   `application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1`.
/// - `image/png`, `image/jpeg`, `image/x-portable-anymap` (or image/pnm): rendered as
///   `dwc render` does with its default VOI (the file's window, else VOI LUT, else min-max),
///   8-bit (16-bit PNG with `outputBits = 16`).
/// - The frame's own media type (e.g. `image/jpeg` for JPEG Baseline, `image/jp2` for JPEG
///   2000, `image/jls`, `image/dicom-rle`): the frame as stored, untouched.
///
/// Usage from RetrieveFramesOperation:
/// ```
/// let transcoder = try FrameTranscoder(mediaType: "image/png")          // once, from the option
/// if transcoder.passesThrough(transferSyntax: target.transferSyntax) {
///     // write `bytes` as now
/// } else {
///     let file = try DicomFileLoader(stopBeforePixels: true).load(path)  // once per instance
///     let instance = try transcoder.instance(for: file, name: path)
///     let out = try instance.transcode(bytes, frame: number)            // per frame
///     // out.bytes, out.contentType (multipart), out.fileExtension ({ext} of --name)
/// }
/// ```
/// Errors are `DwcError`s: 1 for an unknown media type, 82 no decoder, 83 decode failed,
/// 85 encode failed.
public struct FrameTranscoder: Sendable {
    public enum Kind: Sendable, Equatable {
        case native
        case rendered(RenderFormat)
        /// Only frames already in this media type (with this transfer syntax when given).
        case asStored(type: String, transferSyntax: String?)
    }

    public let kind: Kind
    public var options = RenderOptions()
    public var quality = 90

    /// Parses a media type as given to `--media-type` (parameters other than transfer-syntax
    /// are ignored).
    public init(mediaType: String) throws {
        let parts = mediaType.split(separator: ";").map { $0.trimmingCharacters(in: " ").lowercased() }
        guard let type = parts.first, !type.isEmpty else {
            throw DwcError(.syntax, "--media-type '\(mediaType)': empty")
        }
        var syntax: String?
        for parameter in parts.dropFirst() where parameter.hasPrefix("transfer-syntax=") {
            syntax = String(parameter.dropFirst("transfer-syntax=".count)).trimmingCharacters(in: "\"")
        }
        switch type {
        case "application/octet-stream":
            if let syntax, syntax != TransferSyntaxUID.explicitVRLittleEndian, syntax != "*" {
                throw DwcError(.syntax, "--media-type '\(mediaType)': frames are decoded to transfer syntax \(TransferSyntaxUID.explicitVRLittleEndian) only")
            }
            kind = .native
        case "image/png":
            kind = .rendered(.png)
        case "image/x-portable-anymap", "image/pnm", "image/x-portable-graymap", "image/x-portable-pixmap":
            kind = .rendered(.pnm)
        case "image/jpeg" where syntax == nil || syntax == TransferSyntaxUID.jpegBaseline:
            // image/jpeg without a transfer syntax means JPEG Baseline (PS3.18 Table 8.7.4-1):
            // baseline frames pass through, the others are rendered to baseline JPEG.
            kind = .rendered(.jpeg)
        case "image/jpeg", "image/jls", "image/jp2", "image/jpx", "image/jphc", "image/dicom-rle", "video/mpeg", "video/mp4":
            kind = .asStored(type: type, transferSyntax: syntax)
        default:
            throw DwcError(.syntax, "--media-type '\(mediaType)': expected application/octet-stream, image/png, image/jpeg, image/x-portable-anymap, or the frames' own type")
        }
    }

    /// True when frames of this transfer syntax are delivered as stored (no header needed).
    public func passesThrough(transferSyntax uid: String) -> Bool {
        let own = MediaTypes.frameContentType(transferSyntax: uid)
        let ownType = own.split(separator: ";").first.map { String($0).trimmingCharacters(in: " ") } ?? own
        switch kind {
        case .native:
            // FrameReader already delivers native frames little endian (big endian swapped,
            // deflated data inflated, 1-bit frames starting at bit 0).
            return TransferSyntaxUID.native.contains(uid)
        case .rendered(let format):
            return format == .jpeg && uid == TransferSyntaxUID.jpegBaseline
        case .asStored(let type, let syntax):
            return type == ownType && (syntax == nil || syntax == uid)
        }
    }

    /// What one instance needs to transcode its frames (its header, parsed once).
    /// - Throws: `DwcError` 1 when the media type cannot hold this instance's frames.
    public func instance(for file: DicomFile, name: String) throws -> Instance {
        if case .asStored(let type, _) = kind, !passesThrough(transferSyntax: file.transferSyntax.uid) {
            throw DwcError(.syntax, "\(name): frames in \(file.transferSyntax.uid) cannot be delivered as \(type) (no encoder); use application/octet-stream, image/png or image/jpeg")
        }
        let attributes = try RenderAttributes(file: file)
        guard DecoderRegistry.decoder(for: file.transferSyntax.uid) != nil else {
            throw DwcError(.unsupportedTransferSyntax, "\(name): transfer syntax \(file.transferSyntax.uid) cannot be decoded")
        }
        return Instance(transcoder: self, attributes: attributes, name: name)
    }

    public struct Output: Sendable {
        public var bytes: [UInt8]
        /// For multipart parts, e.g. `image/png` or `application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1`.
        public var contentType: String
        /// For {ext}: png, jpg, pgm/ppm, raw.
        public var fileExtension: String
    }

    public struct Instance: Sendable {
        let transcoder: FrameTranscoder
        public let attributes: RenderAttributes
        let name: String

        /// Transcodes frame `number` (1-based), given its bytes as `FrameReader.frame` returns
        /// them (codestream, or little-endian native bytes with 1-bit frames starting at bit 0).
        public func transcode(_ bytes: [UInt8], frame number: Int) throws -> Output {
            let syntax = attributes.description.transferSyntaxUID
            if transcoder.passesThrough(transferSyntax: syntax) {
                return Output(bytes: bytes, contentType: MediaTypes.frameContentType(transferSyntax: syntax),
                              fileExtension: MediaTypes.fileExtension(transferSyntax: syntax))
            }
            let decoded: DecodedFrame
            do {
                decoded = try DecoderRegistry.decode(bytes, description: attributes.description)
            } catch {
                throw DwcError(codec: error, context: "\(name): frame \(number)")
            }
            switch transcoder.kind {
            case .native, .asStored:
                return Output(bytes: Self.nativeBytes(decoded),
                              contentType: "application/octet-stream; transfer-syntax=\(TransferSyntaxUID.explicitVRLittleEndian)",
                              fileExtension: "raw")
            case .rendered(let format):
                let rendered = try FrameRenderer.render(decoded, attributes: attributes, frameNumber: number, options: transcoder.options)
                let encoded = try format.encode(rendered.image, quality: transcoder.quality)
                return Output(bytes: encoded, contentType: format.mediaType,
                              fileExtension: format.fileExtension(channels: rendered.image.channels))
            }
        }

        /// Decoded samples as a native frame: as they are, except 1-bit samples packed again
        /// (least significant bit first).
        static func nativeBytes(_ frame: DecodedFrame) -> [UInt8] {
            guard frame.operations.contains(.unpackedBits) else { return frame.samples }
            var packed = [UInt8](repeating: 0, count: (frame.sampleCount + 7) / 8)
            for i in 0..<frame.sampleCount where frame.samples[i] & 1 != 0 {
                packed[i >> 3] |= UInt8(1) << UInt8(i & 7)
            }
            return packed
        }
    }
}
