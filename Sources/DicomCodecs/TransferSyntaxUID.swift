/// The transfer syntax UIDs whose frames this module decodes (PS3.5 §10, Annex A).
public enum TransferSyntaxUID {
    public static let implicitVRLittleEndian = "1.2.840.10008.1.2"
    public static let explicitVRLittleEndian = "1.2.840.10008.1.2.1"
    public static let encapsulatedUncompressed = "1.2.840.10008.1.2.1.98"
    public static let deflatedExplicitVRLittleEndian = "1.2.840.10008.1.2.1.99"
    public static let explicitVRBigEndian = "1.2.840.10008.1.2.2"
    public static let jpegBaseline = "1.2.840.10008.1.2.4.50"
    public static let jpegExtended = "1.2.840.10008.1.2.4.51"
    public static let jpegLossless = "1.2.840.10008.1.2.4.57"
    public static let jpegLosslessSV1 = "1.2.840.10008.1.2.4.70"
    public static let jpegLSLossless = "1.2.840.10008.1.2.4.80"
    public static let jpegLSNearLossless = "1.2.840.10008.1.2.4.81"
    public static let jpeg2000Lossless = "1.2.840.10008.1.2.4.90"
    public static let jpeg2000 = "1.2.840.10008.1.2.4.91"
    public static let htj2kLossless = "1.2.840.10008.1.2.4.201"
    public static let htj2kLosslessRPCL = "1.2.840.10008.1.2.4.202"
    public static let htj2k = "1.2.840.10008.1.2.4.203"
    public static let rleLossless = "1.2.840.10008.1.2.5"
    public static let deflatedImageFrame = "1.2.840.10008.1.2.8.1"

    /// Syntaxes whose frames are native (uncompressed) sample bytes.
    public static let native: Set<String> = [
        implicitVRLittleEndian, explicitVRLittleEndian, encapsulatedUncompressed,
        deflatedExplicitVRLittleEndian, explicitVRBigEndian,
    ]
}
