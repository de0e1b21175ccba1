// The command line's forms of keys of any shape: --key column=value,… and --keys-file (JSON or CSV).
import { describe, expect, it } from 'vitest';
import { parseKeyOption, parseKeysFile } from '../client/key-tuples.js';
import { InputError } from '../common/errors.js';

describe('keys on the command line', () => {
  it('reads --key as column → value, and refuses what is not column=value', () => {
    expect(parseKeyOption('customer_id=5,order_id=17')).toEqual({ customer_id: '5', order_id: '17' });
    expect(parseKeyOption(' Id = 3f2504e0-4f89-11d3-9a0c-0305e82c3301 ')).toEqual({ Id: '3f2504e0-4f89-11d3-9a0c-0305e82c3301' });
    expect(parseKeyOption('note=a=b')).toEqual({ note: 'a=b' });
    for (const bad of ['5', '=5', 'a=1,,b=2', 'a=1,a=2']) expect(() => parseKeyOption(bad)).toThrow(InputError);
    expect(() => parseKeyOption('region')).toThrow(/a key is column=value/);
  });

  it('reads a keys file as JSON objects or CSV with a header', () => {
    expect(parseKeysFile('[{"customer_id": 5, "order_id": 17}, {"customer_id": "6", "order_id": 1}]', 'k.json')).toEqual([
      { customer_id: '5', order_id: '17' },
      { customer_id: '6', order_id: '1' },
    ]);
    expect(parseKeysFile('region,customer_no\neu,2\r\n"u,s",7\n"a ""q""",8\n', 'k.csv')).toEqual([
      { region: 'eu', customer_no: '2' },
      { region: 'u,s', customer_no: '7' },
      { region: 'a "q"', customer_no: '8' },
    ]);
    expect(() => parseKeysFile('[{"a": null}]', 'k.json')).toThrow(/values are text or numbers/);
    expect(() => parseKeysFile('[1, 2]', 'k.json')).toThrow(/not an object/);
    expect(() => parseKeysFile('[{', 'k.json')).toThrow(/not valid JSON/);
    expect(() => parseKeysFile('region,customer_no\neu\n', 'k.csv')).toThrow(/row 2 has 1 fields, the header 2/);
    expect(() => parseKeysFile('region\n', 'k.csv')).toThrow(/expected JSON, or CSV/);
  });
});
