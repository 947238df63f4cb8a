/// Why a Service gets no registry entry (or why options are unusable): a stable `reason` for
/// Events and conditions, and a message that says what to fix.
public struct RegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Equatable {
        case missingClusterLabel = "MissingClusterLabel"
        case unknownCluster = "UnknownCluster"
        case missingPlaneLabel = "MissingPlaneLabel"
        case unknownPlane = "UnknownPlane"
        case missingField = "MissingField"
        case noPorts = "NoPorts"
        case unknownPort = "UnknownPort"
        case unsupportedProtocol = "UnsupportedProtocol"
        case invalidAnnotation = "InvalidAnnotation"
        case invalidOptions = "InvalidOptions"
        case invalidEntry = "InvalidEntry"
    }

    public var reason: Reason
    public var message: String
    /// `namespace/name` of the Service, when about one.
    public var service: String?

    public init(_ reason: Reason, _ message: String, service: String? = nil) {
        self.reason = reason
        self.message = message
        self.service = service
    }

    public var description: String {
        (service.map { "\($0): " } ?? "") + "\(reason.rawValue): \(message)"
    }
}
