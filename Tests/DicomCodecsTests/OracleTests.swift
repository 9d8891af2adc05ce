import DicomCodecs
import DicomCore
import Foundation
import Testing

/// Transfer syntax families, one test each.
enum CodecFamily: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case native, rle, jpegDCT, jpegLossless, jpegLS, jpeg2000, htj2k

    var testDescription: String { rawValue }

    init?(transferSyntax uid: String) {
        switch uid {
        case TransferSyntaxUID.rleLossless: self = .rle
        case TransferSyntaxUID.jpegBaseline, TransferSyntaxUID.jpegExtended: self = .jpegDCT
        case TransferSyntaxUID.jpegLossless, TransferSyntaxUID.jpegLosslessSV1: self = .jpegLossless
        case TransferSyntaxUID.jpegLSLossless, TransferSyntaxUID.jpegLSNearLossless: self = .jpegLS
        case TransferSyntaxUID.jpeg2000Lossless, TransferSyntaxUID.jpeg2000: self = .jpeg2000
        case TransferSyntaxUID.htj2kLossless, TransferSyntaxUID.htj2kLosslessRPCL, TransferSyntaxUID.htj2k: self = .htj2k
        case _ where TransferSyntaxUID.native.contains(uid): self = .native
        default: return nil
        }
    }

    /// Cases each family must have, so that a fixture script that silently drops files fails.
    var requiredCases: [String] {
        switch self {
        case .native:
            return ["CT_small.dcm", "MR_small_bigendian.dcm", "liver.dcm", "liver_expb.dcm", "SC_rgb_expb_32bit_2frame.dcm",
                    "color-pl.dcm", "SC_ybr_full_422_uncompressed.dcm", "native_1bit_unaligned_frames",
                    "native_signed12_in16_garbage", "image_dfl.dcm"]
        case .rle:
            return ["SC_rgb_rle.dcm", "SC_rgb_rle_16bit_2frame.dcm", "SC_rgb_rle_32bit.dcm", "rtdose_rle.dcm",
                    "MR_small_RLE.dcm", "emri_small_RLE.dcm", "dcmcrle_CT_small"]
        case .jpegDCT:
            return ["SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb_dcmtk_+eb+cr.dcm",
                    "SC_jpeg_no_color_transform.dcm", "color3d_jpeg_baseline.dcm", "JPGExtended.dcm",
                    "dcmcjpeg_emri_small_extended_12bit", "JPEG-lossy.dcm (dcmdjpeg oracle)"]
        case .jpegLossless:
            return ["JPEG-LL.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "SC_rgb_jpeg_gdcm.dcm",
                    "dcmcjpeg_CT_small_lossless_sv2", "dcmcjpeg_CT_small_lossless_sv7", "dcmcjpeg_SC_rgb_lossless_sv5",
                    "dcmcjpeg_emri_small_lossless_sv6_pt2", "swift_jpegll_ri_rows_sv1", "swift_jpegll_ri_mid_row"]
        case .jpegLS:
            return ["MR_small_jpeg_ls_lossless.dcm", "JPEGLSNearLossless_16.dcm", "SC_rgb_jls_lossy_line.dcm",
                    "dcmcjpls_SC_rgb_lossless_in", "dcmcjpls_emri_small_near_lossless_3"]
        case .jpeg2000:
            return ["MR_small_jp2klossless.dcm", "US1_J2KR.dcm", "US1_J2KI.dcm", "J2K_pixelrep_mismatch.dcm",
                    "GDCMJ2K_TextGBR.dcm", "RG1_J2KR.dcm"]
        case .htj2k:
            return ["htj2k_gray12_lossless", "htj2k_gray12_lossless_rpcl", "htj2k_rgb_lossless", "htj2k_rgb_lossy"]
        }
    }
}

/// Debugging: DWC_CODEC_TRACE=1 names each frame before decoding it (on stderr, so that the
/// last one survives a crash) and prints the differences of lossy frames; DWC_CODEC_CASE=NAME
/// limits the family tests to one fixture case.
@Suite("Decoders against pydicom and source pixels")
struct OracleTests {
    @Test("every frame decodes to the oracle's samples", arguments: CodecFamily.allCases)
    func family(_ family: CodecFamily) throws {
        let manifest = try CodecFixtures.load()
        var cases = manifest.cases.filter { CodecFamily(transferSyntax: $0.transferSyntax) == family }
        if let only = ProcessInfo.processInfo.environment["DWC_CODEC_CASE"] { cases = cases.filter { $0.name == only } }
        let names = Set(cases.map(\.name))
        for required in family.requiredCases {
            #expect(names.contains(required), "fixture case \(required) is missing")
        }
        var frames = 0
        for c in cases {
            for f in c.frames {
                frames += 1
                check(c, f)
            }
        }
        #expect(frames > 0)
    }

    private func check(_ c: FixtureManifest.Case, _ f: FixtureManifest.Frame) {
        let label = "\(c.name) frame \(f.index + 1) [\(c.transferSyntax)]"
        let trace = ProcessInfo.processInfo.environment["DWC_CODEC_TRACE"] != nil
        if trace { FileHandle.standardError.write(Data("codec-trace: \(label)\n".utf8)) }
        switch c.expect {
        case "error":
            #expect(throws: CodecError.self, "\(label) must be refused") { try decodeFixtureFrame(c, f) }
        case "any":
            do {
                _ = try decodeFixtureFrame(c, f)
            } catch is CodecError {
                // A clear error is fine for a file pydicom cannot decode either.
            } catch {
                Issue.record("\(label): \(error)")
            }
        default:
            do {
                let decoded = try decodeFixtureFrame(c, f)
                let expected = try CodecFixtures.expectedValues(f)
                guard let result = compare(decoded, expected) else {
                    Issue.record("\(label): \(decoded.sampleCount) samples decoded, oracle (\(c.oracle)) has \(expected.count)")
                    return
                }
                #expect(result.maxDifference <= c.tolerance,
                        "\(label): max difference \(result.maxDifference) > \(c.tolerance) (\(result.differing) of \(expected.count) samples differ; \(c.toleranceNote)); oracle \(c.oracle)")
                #expect(decoded.planarConfiguration == 0)
                if trace && result.differing > 0 {
                    print("codec-oracle: \(label): max |Δ| \(result.maxDifference), \(result.differing)/\(expected.count) samples differ")
                }
            } catch {
                Issue.record("\(label): \(error) (oracle \(c.oracle))")
            }
        }
    }

    @Test("colour JPEG frames come out as RGB, with the conversion recorded")
    func jpegColour() throws {
        let manifest = try CodecFixtures.load()
        let colour = manifest.cases.filter {
            CodecFamily(transferSyntax: $0.transferSyntax) == .jpegDCT && $0.attributes.SamplesPerPixel == 3 && $0.expect == "decode"
        }
        #expect(colour.count >= 10)
        for c in colour {
            let decoded = try decodeFixtureFrame(c, c.frames[0])
            #expect(decoded.photometricInterpretation == "RGB", "\(c.name)")
            let converted = decoded.operations.contains {
                if case .colorConverted(_, "RGB", "libjpeg-turbo") = $0 { return true }
                return false
            }
            let wasYBR = c.attributes.PhotometricInterpretation?.hasPrefix("YBR") ?? false
            if wasYBR && !["SC_rgb_jpeg_app14_dcmd.dcm"].contains(c.name) {
                #expect(converted, "\(c.name): YBR frame without a recorded conversion")
            }
        }
    }

    @Test("JPEG 2000 YBR_ICT/YBR_RCT frames are reported as RGB")
    func j2kColour() throws {
        let manifest = try CodecFixtures.load()
        let c = try #require(manifest.cases.first { $0.name == "US1_J2KR.dcm" })
        let decoded = try decodeFixtureFrame(c, c.frames[0])
        #expect(decoded.photometricInterpretation == "RGB")
        #expect(decoded.samplesPerPixel == 3)
    }

    @Test("skipped pydicom files are only those pydicom itself cannot decode")
    func skippedFiles() throws {
        let manifest = try CodecFixtures.load()
        for s in manifest.skipped {
            #expect(s.reason.contains("pydicom cannot decode") || s.reason.contains("no dwc decoder"), "\(s.name): \(s.reason)")
        }
        #expect(manifest.cases.count >= 150)
    }
}
