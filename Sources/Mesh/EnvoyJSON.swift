/// Small pieces of Envoy's JSON mapping shared by the render steps.
enum EnvoyJSON {
    static let httpProtocolOptionsName = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

    /// `type.googleapis.com/<message>`, the `@type` of an `Any`.
    static func typeURL(_ message: String) -> String { "type.googleapis.com/\(message)" }

    /// Milliseconds as a protobuf JSON duration: 2500 → "2.500s".
    static func duration(milliseconds ms: Int) -> String {
        let magnitude = ms.magnitude
        let fraction = String(magnitude % 1000)
        return "\(ms < 0 ? "-" : "")\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)s"
    }
}
