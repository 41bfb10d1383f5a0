/**
 * Users (admins): every user, whether admin or disabled; create one (name, password, admin) and disable or enable
 * one (a disabled user cannot log in, and their sessions, tokens and open streams stop at once). Team
 * membership is set on each team's card.
 */
import { useState } from 'preact/hooks';
import { useAction } from '../action';
import { useLoad } from '../data';
import { session } from '../session';
import { Status } from './Status';

export function Users() {
  const s = session()!;
  const users = useLoad(() => s.client.listUsers(), []);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [admin, setAdmin] = useState(false);
  const [error, act] = useAction(users.reload);
  return (
    <section class="card" data-testid="users">
      <h2>Users</h2>
      {users.error && <p class="error">{users.error}</p>}
      <table class="table">
        <tbody>
          {(users.data ?? []).map((u) => (
            <tr>
              <td>
                {u.username} {u.isAdmin && <span class="tag">admin</span>}
              </td>
              <td>{u.disabled ? <Status status="disabled" /> : <Status status="enabled" />}</td>
              <td>
                {u.username !== s.me.username && (
                  <button
                    type="button"
                    class="link"
                    onClick={() =>
                      (u.disabled || window.confirm(`Disable ${u.username}? Their sessions and tokens stop working at once.`)) &&
                      act(() => s.client.setUserDisabled(u.username, !u.disabled))
                    }
                  >
                    {u.disabled ? `Enable ${u.username}` : `Disable ${u.username}`}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        class="inline-form"
        autoComplete="off"
        aria-label="New user"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await act(() => s.client.createUser({ username: name, password, isAdmin: admin }))) {
            setName('');
            setPassword('');
            setAdmin(false);
          }
        }}
      >
        <input aria-label="New user name" placeholder="user name" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <input aria-label="New user password" type="password" autoComplete="new-password" placeholder="password" required value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        <label class="check">
          <input type="checkbox" checked={admin} onChange={(e) => setAdmin((e.target as HTMLInputElement).checked)} /> admin
        </label>
        <button type="submit">Create user</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
