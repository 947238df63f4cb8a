extension Array where Element == Condition {
    /// These conditions with `type` set; `lastTransitionTime` moves only when the status flips,
    /// so writing the same state again changes nothing.
    public func setting(_ type: String, _ status: Condition.State, reason: String, message: String,
                        observedGeneration: Int64?, now: String) -> [Condition] {
        var result = self
        if let i = result.firstIndex(where: { $0.type == type }) {
            let time = result[i].status == status ? result[i].lastTransitionTime : now
            result[i] = Condition(type: type, status: status, observedGeneration: observedGeneration, lastTransitionTime: time,
                                  reason: reason, message: message)
        } else {
            result.append(Condition(type: type, status: status, observedGeneration: observedGeneration, lastTransitionTime: now,
                                    reason: reason, message: message))
        }
        return result
    }

    public func first(_ type: String) -> Condition? { first { $0.type == type } }
}
