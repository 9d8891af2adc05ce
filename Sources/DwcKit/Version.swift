public enum DwcKit { public static let version = "0.1.0" }
