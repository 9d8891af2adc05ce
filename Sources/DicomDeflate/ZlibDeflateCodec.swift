import CZlib
import DicomParser

/// Raw deflate through zlib (windowBits -15: no zlib header, as PS3.5 A.5 requires).
public struct ZlibDeflateCodec: DeflateCodec {
    public init() {}

    public static var zlibVersion: String { String(cString: CZlib.zlibVersion()) }

    public func inflate(_ data: [UInt8], limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DeflateError.failed("inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, max(4096, data.count * 4)))
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        var input = data
        let inputCount = input.count
        var status: Int32 = Z_OK
        try input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inputCount)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                if status != Z_OK, status != Z_STREAM_END, status != Z_BUF_ERROR {
                    throw DeflateError.failed(stream.msg.map { String(cString: $0) } ?? "inflate error \(status)")
                }
                guard output.count + produced <= limit else { throw DeflateError.tooLarge(limit) }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_BUF_ERROR, produced == 0 { break }  // input ended without a final block
            } while status != Z_STREAM_END && (stream.avail_in > 0 || stream.avail_out == 0)
        }
        return output
    }

    public func deflate(_ data: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DeflateError.failed("deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        var input = data
        let inputCount = input.count
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(inputCount))) + 64)
        let outputCount = output.count
        let status: Int32 = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inputCount)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outputCount)
                return CZlib.deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw DeflateError.failed("deflate failed (\(status))") }
        output.removeLast(Int(stream.avail_out))
        return output
    }
}

public enum DeflateError: Error, CustomStringConvertible {
    case failed(String)
    case tooLarge(Int)
    public var description: String {
        switch self {
        case .failed(let message): return "zlib: \(message)"
        case .tooLarge(let limit): return "inflates to more than \(limit) bytes"
        }
    }
}
