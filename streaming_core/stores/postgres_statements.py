"""The SQL PostgresSessionService sends over ADK's own tables (schema v1): each one statement, so
one round trip, where ADK's ORM makes four to seven (issue 11).

Statements run outside a transaction (each is atomic) under READ COMMITTED, PostgreSQL's default,
where every statement reads its own snapshot in or out of a transaction anyway.
"""

from __future__ import annotations

from google.adk.sessions.schemas.v1 import StorageEvent, StorageSession
from sqlalchemy import bindparam, text

_TIME = StorageSession.update_time.type
_JSON = StorageSession.state.type

# ADK's create_session: the app and user state rows made if missing (as `_get_or_create_state`
# does), the session inserted, and the states read for the merged state. The reads cannot see rows
# this statement inserts (`{}` then), nor one a concurrent first create inserted after the
# statement's snapshot (NULL though not `app_made`: read again).
CREATE = (
    text(
        """
    WITH app_made AS (
        INSERT INTO app_states (app_name, state, update_time) VALUES (:app_name, '{}', now())
        ON CONFLICT DO NOTHING RETURNING 1
    ), user_made AS (
        INSERT INTO user_states (app_name, user_id, state, update_time) VALUES (:app_name, :user_id, '{}', now())
        ON CONFLICT DO NOTHING RETURNING 1
    ), session_made AS (
        INSERT INTO sessions (app_name, user_id, id, state, create_time, update_time)
        VALUES (:app_name, :user_id, :session_id, :state, :now, :now) RETURNING 1
    )
    SELECT (SELECT count(*) FROM app_made) AS app_made, (SELECT count(*) FROM user_made) AS user_made,
           (SELECT count(*) FROM session_made) AS session_made,
           (SELECT state FROM app_states WHERE app_name = :app_name) AS app_state,
           (SELECT state FROM user_states WHERE app_name = :app_name AND user_id = :user_id) AS user_state
    """
    )
    .bindparams(bindparam("state", type_=_JSON), bindparam("now", type_=_TIME))
    .columns(app_state=_JSON, user_state=_JSON)
)
STATES = text(
    """
    SELECT (SELECT state FROM app_states WHERE app_name = :app_name) AS app_state,
           (SELECT state FROM user_states WHERE app_name = :app_name AND user_id = :user_id) AS user_state
    """
).columns(app_state=_JSON, user_state=_JSON)

# ADK's get_session: the session row, the app and user states, and its events newest first (ties
# broken on id, as ADK orders them), from `after` on, at most `limit` (NULL: all), as one JSON array
# (one value to decode, not the states again on every event's row).
SESSION = (
    text(
        """
    SELECT s.state, s.create_time, s.update_time,
           (SELECT state FROM app_states WHERE app_name = :app_name) AS app_state,
           (SELECT state FROM user_states WHERE app_name = :app_name AND user_id = :user_id) AS user_state,
           (SELECT coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'invocation_id', e.invocation_id,
                                                         'timestamp', e.timestamp, 'event_data', e.event_data)
                                      ORDER BY e.timestamp DESC, e.id DESC), '[]')
            FROM (SELECT id, invocation_id, timestamp, event_data FROM events
                  WHERE app_name = :app_name AND user_id = :user_id AND session_id = :session_id
                    AND (CAST(:after AS TIMESTAMP) IS NULL OR timestamp >= :after)
                  ORDER BY timestamp DESC, id DESC LIMIT :limit) e) AS events
    FROM sessions s WHERE s.app_name = :app_name AND s.user_id = :user_id AND s.id = :session_id
    """
    )
    .bindparams(bindparam("after", type_=_TIME))
    .columns(state=_JSON, create_time=_TIME, update_time=_TIME, app_state=_JSON, user_state=_JSON, events=_JSON)
)

# ADK's append_event without app:/user: deltas: the stale-session check (ADK's revision marker is
# update_time to the microsecond), the session's new update_time and state, and the event. An
# append holding the row makes a concurrent one wait, then see the new update_time: no row. The
# state rows ADK requires must exist, as ADK checks.
APPEND = text(
    """
    WITH updated AS (
        UPDATE sessions SET update_time = :update_time,
            state = CASE WHEN :has_delta THEN state || :delta ELSE state END
        WHERE app_name = :app_name AND user_id = :user_id AND id = :session_id AND update_time = :marker
          AND EXISTS (SELECT 1 FROM app_states WHERE app_name = :app_name)
          AND EXISTS (SELECT 1 FROM user_states WHERE app_name = :app_name AND user_id = :user_id)
        RETURNING 1
    )
    INSERT INTO events (id, app_name, user_id, session_id, invocation_id, timestamp, event_data)
    SELECT :event_id, :app_name, :user_id, :session_id, :invocation_id, :timestamp, :event_data FROM updated
    RETURNING 1
    """
).bindparams(
    bindparam("update_time", type_=_TIME),
    bindparam("marker", type_=_TIME),
    bindparam("delta", type_=_JSON),
    bindparam("timestamp", type_=StorageEvent.timestamp.type),
    bindparam("event_data", type_=StorageEvent.event_data.type),
)
# Why an append wrote nothing, in ADK's order: no session, no app state, no user state, else stale.
WHY_NOT_APPENDED = text(
    """
    SELECT (SELECT count(*) FROM sessions WHERE app_name = :app_name AND user_id = :user_id AND id = :session_id),
           (SELECT count(*) FROM app_states WHERE app_name = :app_name),
           (SELECT count(*) FROM user_states WHERE app_name = :app_name AND user_id = :user_id)
    """
)
