//! When each request reached a stand-in and when its answer left, on the system's monotonic
//! clock (comparable across processes, so a bench can set a child's spawn time beside them),
//! and the length of a run's critical path in requests.

/// One request and its answer, as a stand-in saw them.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// `ecr` or `github`.
    pub service: &'static str,
    /// The operation or `METHOD path`, for people.
    pub what: String,
    /// The request was read whole, in nanoseconds of `CLOCK_MONOTONIC`.
    pub arrived: u64,
    /// The answer was written.
    pub answered: u64,
}

/// Now, in nanoseconds of `CLOCK_MONOTONIC`: the clock `std::time::Instant` reads on Linux, but
/// as a number another process can compare.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The longest chain of exchanges each of which arrived after the previous one in the chain had
/// been answered: how many round trips a run made one after another, whatever ran beside them.
/// Requests sent together count once; a request that needed an earlier answer counts again.
pub fn sequential_round_trips(exchanges: &[Exchange]) -> usize {
    round_trips_to(exchanges, |_| true)
}

/// The longest such chain that ends with an exchange `ending` picks (the dispatch, say): how
/// many round trips, one after another, came before it and with it.
pub fn round_trips_to(exchanges: &[Exchange], ending: impl Fn(&Exchange) -> bool) -> usize {
    let mut sorted: Vec<&Exchange> = exchanges.iter().collect();
    sorted.sort_by_key(|e| e.arrived);
    // depth[i]: the longest chain that ends with sorted[i]. Every exchange a chain can extend
    // arrived earlier, so it comes earlier in `sorted`.
    let mut depth = vec![0usize; sorted.len()];
    for i in 0..sorted.len() {
        depth[i] = 1
            + (0..i)
                .filter(|&j| sorted[j].answered <= sorted[i].arrived)
                .map(|j| depth[j])
                .max()
                .unwrap_or(0);
    }
    depth
        .into_iter()
        .zip(&sorted)
        .filter(|(_, e)| ending(e))
        .map(|(d, _)| d)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(arrived: u64, answered: u64) -> Exchange {
        Exchange {
            service: "test",
            what: format!("{arrived}..{answered}"),
            arrived,
            answered,
        }
    }

    #[test]
    fn no_request_is_no_round_trip() {
        assert_eq!(sequential_round_trips(&[]), 0);
    }

    #[test]
    fn requests_sent_together_are_one_round_trip() {
        // Two ECR lookups (60) and two GitHub reads (100), all sent at once.
        let round = [at(0, 60), at(1, 61), at(1, 101), at(2, 102)];
        assert_eq!(sequential_round_trips(&round), 1);
    }

    #[test]
    fn the_round_trips_to_one_request_leave_out_what_came_after() {
        // The reads, then the dispatch beside the record's creation, then the record's status.
        let mut dispatch = at(103, 203);
        dispatch.what = "POST /dispatches".into();
        let run = [at(0, 60), at(1, 101), dispatch, at(104, 204), at(205, 305)];
        assert_eq!(sequential_round_trips(&run), 3);
        assert_eq!(round_trips_to(&run, |e| e.what.ends_with("/dispatches")), 2);
        assert_eq!(round_trips_to(&run, |_| false), 0);
    }

    #[test]
    fn a_request_after_an_answer_is_another_round_trip() {
        // The reads together, then the dispatch once the last read was answered.
        let run = [at(0, 60), at(1, 61), at(1, 101), at(2, 102), at(103, 203)];
        assert_eq!(sequential_round_trips(&run), 2);
    }

    #[test]
    fn the_longest_chain_counts_not_the_number_of_rounds_seen() {
        // ECR, then the workflow, then the file, then the dispatch: four one after another,
        // beside a slow read that spans the first three.
        let run = [
            at(0, 60),
            at(61, 161),
            at(162, 262),
            at(263, 363),
            at(1, 300),
        ];
        assert_eq!(sequential_round_trips(&run), 4);
    }

    #[test]
    fn overlapping_requests_do_not_chain_in_any_order() {
        // Given out of order; the second starts before the first is answered.
        let run = [at(50, 150), at(0, 100)];
        assert_eq!(sequential_round_trips(&run), 1);
        // A request that arrives exactly when another is answered follows it.
        let run = [at(100, 200), at(0, 100)];
        assert_eq!(sequential_round_trips(&run), 2);
    }
}
