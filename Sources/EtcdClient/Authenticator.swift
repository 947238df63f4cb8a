/// The auth token for a user name and password, fetched once and shared by every request.
///
/// etcd's tokens expire (after `--auth-token-ttl` idle seconds, or when the member restarts);
/// a request refused as unauthenticated invalidates the token it used, and the next caller
/// fetches a new one. Fetches are single-flight: callers that need a token while one is being
/// fetched wait for it rather than all authenticating at once (each authentication costs the
/// server a bcrypt hash).
actor Authenticator {
    /// A token and the generation it belongs to (to invalidate exactly that one).
    struct Token: Sendable {
        var value: String
        var generation: Int
    }

    private var token: Token?
    private var generation = 0
    private var fetching = false
    /// Callers waiting for the fetch in flight: they get its outcome, or nil to try themselves
    /// (when the fetching task was cancelled).
    private var waiters: [CheckedContinuation<Result<Token, EtcdError>?, Never>] = []

    /// The current token, fetching one with `fetch` when there is none.
    func current(fetch: @Sendable () async throws(EtcdError) -> String) async throws(EtcdError) -> Token {
        while true {
            if let token { return token }
            if fetching {
                let outcome = await withCheckedContinuation { waiters.append($0) }
                if let outcome { return try outcome.get() }
                continue
            }
            fetching = true
            let outcome: Result<Token, EtcdError>
            do {
                let value = try await fetch()
                generation += 1
                let fresh = Token(value: value, generation: generation)
                token = fresh
                outcome = .success(fresh)
            } catch {
                outcome = .failure(error)
            }
            fetching = false
            let parked = waiters
            waiters = []
            let shared: Result<Token, EtcdError>? = if case .failure(let e) = outcome, e.code == .cancelled { nil } else { outcome }
            parked.forEach { $0.resume(returning: shared) }
            return try outcome.get()
        }
    }

    /// Forgets `token` if it is still the current one (a newer token stays).
    func invalidate(_ token: Token) {
        if self.token?.generation == token.generation { self.token = nil }
    }
}
