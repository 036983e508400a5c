//! A request body with a deadline: a client that sends its headers and then trickles
//! (or never sends) the body holds a connection slot only until the deadline, and the
//! service reading it gets an error instead of waiting.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error a [`TimedBody`] gives once the body was not read in time.
#[derive(Debug)]
pub struct BodyTimedOut(pub Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} s",
            self.0.as_secs_f32()
        )
    }
}

impl std::error::Error for BodyTimedOut {}

/// `inner`, failing with [`BodyTimedOut`] when it is not complete by the deadline
/// (counted from when the request's headers were read).
pub struct TimedBody<B> {
    inner: B,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, limit: Duration) -> Self {
        TimedBody {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep_until(Instant::now() + limit)),
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(this.limit))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn a_complete_body_passes() {
        let body = TimedBody::new(
            Full::new(Bytes::from_static(b"abc")),
            Duration::from_secs(1),
        );
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"abc");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_ends_times_out() {
        let body = TimedBody::new(Never, Duration::from_secs(30));
        let err = body.collect().await.err().unwrap();
        assert!(err.is::<BodyTimedOut>(), "{err}");
        assert!(err.to_string().contains("30"), "{err}");
    }

    /// A body whose first frame never comes.
    struct Never;

    impl Body for Never {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }
}
