// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "dwc",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dwc", targets: ["dwc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C libraries, one shim each; only one Swift target imports each shim.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "COpenJPEG", pkgConfig: "libopenjp2", providers: [.apt(["libopenjp2-7-dev"])]),
        .target(name: "CCharLS", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // libcurl's headers (apt libcurl4-openssl-dev) with the library loaded by dlopen on first
        // use, not linked: linking it costs every dwc process ~8 ms of start-up (docs/remote.md).
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CCrypto", linkerSettings: [.linkedLibrary("dl")]),

        // Tags, VRs, dictionary, UIDs, values, data sets, character sets, DICOM JSON. No C.
        .target(name: "DicomCore"),
        // Part 10 reader and writer over a ByteSource. No C: inflation is injected.
        .target(name: "DicomParser", dependencies: ["DicomCore"]),
        // zlib raw inflate/deflate for the Deflated Explicit VR Little Endian syntax.
        .target(name: "DicomDeflate", dependencies: ["DicomParser", "CZlib"]),
        // Remote objects (https://, s3://, gs://) as ByteSources: ranged GETs, listings, SigV4.
        .target(name: "DicomRemote", dependencies: ["DicomParser", "CCurl", "CCrypto"]),
        // The SQLite index: schema, writer, QIDO-RS queries (the only importer of CSQLite3).
        .target(name: "DicomIndex", dependencies: ["DicomCore", "DicomParser", "CSQLite3"]),
        // Frame decoders and image encoders: one PixelDecoder per transfer syntax (C libraries
        // for JPEG, JPEG 2000, JPEG-LS, PNG; RLE and JPEG Lossless in Swift).
        .target(name: "DicomCodecs", dependencies: ["DicomCore", "CTurboJPEG", "COpenJPEG", "CCharLS", "CPNG"]),
        // Operations behind the commands: typed options in, typed results out.
        .target(name: "DwcKit", dependencies: ["DicomCore", "DicomParser", "DicomDeflate", "DicomIndex", "DicomCodecs", "DicomRemote"]),
        .executableTarget(name: "dwc", dependencies: [
            "DwcKit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared by the test targets only: the seeded generator of the randomized tests.
        .target(name: "DicomTestSupport", path: "Tests/DicomTestSupport"),
        .testTarget(name: "DicomCoreTests", dependencies: ["DicomCore", "DicomTestSupport"]),
        .testTarget(name: "DicomParserTests", dependencies: ["DicomTestSupport", "DicomCore", "DicomParser", "DicomDeflate"]),
        .testTarget(name: "DicomCodecsTests", dependencies: ["DicomTestSupport", "DicomCore", "DicomCodecs"]),
        .testTarget(name: "DicomIndexTests", dependencies: ["DicomCore", "DicomParser", "DicomIndex"]),
        .testTarget(name: "DicomRemoteTests", dependencies: ["DicomTestSupport", "DicomRemote", "DicomParser", "DicomCore"]),
        .testTarget(name: "DwcCLITests", dependencies: ["DicomTestSupport", "DwcKit", "DicomIndex", "DicomParser", "DicomCore", "DicomRemote"]),
    ],
    swiftLanguageModes: [.v6]
)
